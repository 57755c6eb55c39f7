// Included by gemm.cu inside namespace hk_tk (host code only): the persistent grid's size for both
// launches (lcf's in gemm.cu, sched_host.cuh's): the SM count (SCHED >= 1: resident clusters), or fewer when
// HKTUNE_GRID_CAP says so. hktune's compute-sanitizer run sets it (hktune/search/sanitize.py), so
// that at its small shape every block still walks several tiles: the ring's phases across tiles,
// the epilogue buffers a next tile rewrites (EPILOGUE 2 drains them under its main loop) and the
// split-K order are then checked too, in seconds. Read once per device (the callers cache it).
static int grid_cap(int n) {
  const char* s = std::getenv("HKTUNE_GRID_CAP");
  const long cap = s ? std::strtol(s, nullptr, 10) : 0;
  return cap > 0 && cap < n ? (int)cap : n;
}

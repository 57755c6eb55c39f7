"""Run as a script in a child process (no hktune import: it may run under another glibc's loader).

argv: LIBRARY M N K. dlopens LIBRARY with ctypes, reads hktune_config(), asks the HIP runtime for
its devices, calls hktune_gemm with null pointers (must return 1: bad input) and, only when the
runtime sees no device, with host buffers and a legal shape (must return 2: no device; with a
device those pointers would be launched on, so that call is skipped). Prints one JSON object.
"""
import ctypes
import json
import sys

lib = ctypes.CDLL(sys.argv[1])
m, n, k = (int(x) for x in sys.argv[2:5])
lib.hktune_config.restype = ctypes.c_char_p
out = {"config": lib.hktune_config().decode()}
hip = ctypes.CDLL("libamdhip64.so.7")  # the runtime the library's NEEDED entry already loaded
hip.hipGetErrorString.restype = ctypes.c_char_p
count = ctypes.c_int(-1)
rc = hip.hipGetDeviceCount(ctypes.byref(count))
out["devices"] = count.value
out["hipGetDeviceCount"] = f"{rc} ({hip.hipGetErrorString(rc).decode()})"
gemm = lib.hktune_gemm
gemm.argtypes = [ctypes.c_void_p] * 3 + [ctypes.c_int] * 3 + [ctypes.c_void_p]
out["bad_args"] = gemm(None, None, None, m, n, k, None)
if count.value <= 0:
    buf = (ctypes.c_char * 64)()
    out["no_device"] = gemm(buf, buf, buf, m, n, k, None)
    last = hip.hipGetLastError()
    out["hipGetLastError"] = f"{last} ({hip.hipGetErrorString(last).decode()})"
print(json.dumps(out))

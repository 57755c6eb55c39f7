"""AMD GPU (gfx942 / gfx950) helpers that need no GPU: resource usage from compiler output and
code objects (:mod:`hktune.build.amd.resources`), and a static vmcnt safety check of compiled
assembly (:mod:`hktune.build.amd.vmcnt`)."""

"""The memory-allocator setting the server runs with.

By default glibc hands freed blocks over 128 KiB back to the kernel at once (and unmaps each such
block), so a request that works on megabyte arrays page-faults all of them in again, every time.
On the 2-core benchmark machine a 256x1024 MLP step took 21 ms that way and 12 ms with freed
memory kept for reuse (blocks under 32 MiB from the heap, the heap trimmed only past 128 MiB
free). glibc reads the setting once, when a process starts, so ``gradserve`` starts itself again
with it (service/__main__.py) unless the operator set ``GLIBC_TUNABLES``; bench/ runs every side
of every case with it. Other C libraries ignore the variable.
"""

GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=134217728"

package org.tensorbuffer.cpu;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Native heap memory from the C library through the FFM API: {@code posix_memalign} and {@code free}, bound once
 * with {@link Linker#nativeLinker()}, so that every buffer is freed deterministically (no per-buffer {@link Arena},
 * whose close costs tens of microseconds).
 *
 * <p>{@link #ALL} is one segment over the whole address space; the kernels read and write native memory through it
 * at absolute addresses ({@code ALL.get(JAVA_FLOAT_UNALIGNED, address)}), which avoids creating a segment per call.
 * Callers check bounds themselves against the {@link org.tensorbuffer.device.DeviceBuffer} sizes. Thread-safe.
 */
final class NativeMemory {
    /** Every address: the kernels index it with absolute native addresses. */
    static final MemorySegment ALL = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

    private static final MethodHandle POSIX_MEMALIGN;
    private static final MethodHandle FREE;
    /** {@code madvise}, or null where the C library has none (not Linux). */
    private static final MethodHandle MADVISE;
    /** Linux's {@code MADV_HUGEPAGE}. */
    private static final int MADV_HUGEPAGE = 14;
    /** Blocks from this size up are offered transparent huge pages. */
    static final long HUGE_PAGE_THRESHOLD = 4L << 20;
    private static final long PAGE = 4096;
    private static final boolean HUGE_PAGES = System.getProperty("os.name", "").startsWith("Linux")
            && !"false".equals(System.getProperty("tensorbuffer.cpu.hugePages"));

    static {
        Linker linker = Linker.nativeLinker();
        var libc = linker.defaultLookup();
        // int posix_memalign(void **memptr, size_t alignment, size_t size); the out-pointer is a heap long[1],
        // passed directly thanks to Linker.Option.critical(true) (no native scratch memory needed).
        POSIX_MEMALIGN = linker.downcallHandle(
                libc.find("posix_memalign").orElseThrow(() -> new UnsatisfiedLinkError("posix_memalign not found")),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_LONG),
                Linker.Option.critical(true));
        FREE = linker.downcallHandle(
                libc.find("free").orElseThrow(() -> new UnsatisfiedLinkError("free not found")),
                FunctionDescriptor.ofVoid(ValueLayout.JAVA_LONG),
                Linker.Option.critical(false));
        // int madvise(void *addr, size_t length, int advice)
        MADVISE = libc.find("madvise").map(f -> linker.downcallHandle(f,
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG, ValueLayout.JAVA_LONG,
                        ValueLayout.JAVA_INT), Linker.Option.critical(false))).orElse(null);
    }

    private NativeMemory() {
    }

    /**
     * {@code posix_memalign(&p, alignment, size)}.
     *
     * @return the address, or 0 if the C library has no memory for it
     */
    static long allocate(long size, long alignment) {
        long[] out = new long[1];
        int rc;
        try {
            rc = (int) POSIX_MEMALIGN.invokeExact(MemorySegment.ofArray(out), alignment, size);
        } catch (Throwable t) {
            throw new IllegalStateException("posix_memalign failed", t);
        }
        if (rc != 0) {
            return 0;
        }
        if (size >= HUGE_PAGE_THRESHOLD && HUGE_PAGES && MADVISE != null) {
            adviseHugePages(out[0], size);
        }
        return out[0];
    }

    /**
     * Asks Linux for transparent huge pages on the whole pages of a large block ({@code madvise(MADV_HUGEPAGE)}):
     * where THP is in {@code madvise} mode (this project's machine, and Debian's default), big tensors otherwise fault
     * in 4 KiB at a time and a permute over them misses the TLB on nearly every strided read. As glibc's
     * {@code glibc.malloc.hugetlb=1} tunable does for its own large allocations. Advice only: a failure (no THP, an
     * old kernel) changes nothing and is ignored. Disabled by {@code -Dtensorbuffer.cpu.hugePages=false}.
     */
    private static void adviseHugePages(long address, long size) {
        long start = (address + PAGE - 1) & -PAGE;
        long end = (address + size) & -PAGE;
        if (end <= start) {
            return;
        }
        try {
            int ignored = (int) MADVISE.invokeExact(start, end - start, MADV_HUGEPAGE);
        } catch (Throwable t) {
            throw new IllegalStateException("madvise failed", t);
        }
    }

    /** {@code free(address)}. */
    static void free(long address) {
        try {
            FREE.invokeExact(address);
        } catch (Throwable t) {
            throw new IllegalStateException("free failed", t);
        }
    }
}

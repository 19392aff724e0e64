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
        return rc == 0 ? out[0] : 0;
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

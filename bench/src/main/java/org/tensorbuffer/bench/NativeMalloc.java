package org.tensorbuffer.bench;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The C library's {@code malloc} and {@code free} called directly through the FFM API: the outside reference the pool
 * is measured against (what every raw allocation costs before any Java bookkeeping). Thread-safe (as the C library).
 */
final class NativeMalloc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle MALLOC = LINKER.downcallHandle(
            LINKER.defaultLookup().find("malloc").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.JAVA_LONG), Linker.Option.critical(false));
    private static final MethodHandle FREE = LINKER.downcallHandle(
            LINKER.defaultLookup().find("free").orElseThrow(),
            FunctionDescriptor.ofVoid(ValueLayout.ADDRESS), Linker.Option.critical(false));

    private NativeMalloc() {
    }

    /** {@code malloc(bytes)}; a zero-length segment at the returned address. */
    static MemorySegment malloc(long bytes) {
        try {
            MemorySegment p = (MemorySegment) MALLOC.invokeExact(bytes);
            if (p.address() == 0) {
                throw new OutOfMemoryError("malloc(" + bytes + ") returned NULL");
            }
            return p;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code free(p)}. */
    static void free(MemorySegment p) {
        try {
            FREE.invokeExact(p);
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            throw r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }
}

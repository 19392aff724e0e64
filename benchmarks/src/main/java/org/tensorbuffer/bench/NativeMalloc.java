package org.tensorbuffer.bench;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The C library's {@code malloc} and {@code free} called directly through the FFM API: the outside reference the pool
 * is measured against (what every raw allocation costs before any Java bookkeeping). Two bindings of each: the
 * ordinary downcall ({@link #malloc}, {@link #free}: what a Java program gets from {@code Linker.downcallHandle}
 * without options, with the thread-state transition around the call) and a {@link Linker.Option#critical critical}
 * one ({@link #mallocCritical}, {@link #freeCritical}: no transition, the fastest way FFM can call C). Thread-safe (as
 * the C library).
 */
final class NativeMalloc {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final FunctionDescriptor MALLOC_TYPE = FunctionDescriptor.of(ValueLayout.ADDRESS,
            ValueLayout.JAVA_LONG);
    private static final FunctionDescriptor FREE_TYPE = FunctionDescriptor.ofVoid(ValueLayout.ADDRESS);
    private static final MemorySegment MALLOC_SYM = LINKER.defaultLookup().find("malloc").orElseThrow();
    private static final MemorySegment FREE_SYM = LINKER.defaultLookup().find("free").orElseThrow();
    private static final MethodHandle MALLOC = LINKER.downcallHandle(MALLOC_SYM, MALLOC_TYPE);
    private static final MethodHandle FREE = LINKER.downcallHandle(FREE_SYM, FREE_TYPE);
    private static final MethodHandle MALLOC_CRITICAL = LINKER.downcallHandle(MALLOC_SYM, MALLOC_TYPE,
            Linker.Option.critical(false));
    private static final MethodHandle FREE_CRITICAL = LINKER.downcallHandle(FREE_SYM, FREE_TYPE,
            Linker.Option.critical(false));

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

    /** {@code malloc(bytes)} through the critical binding. */
    static MemorySegment mallocCritical(long bytes) {
        try {
            MemorySegment p = (MemorySegment) MALLOC_CRITICAL.invokeExact(bytes);
            if (p.address() == 0) {
                throw new OutOfMemoryError("malloc(" + bytes + ") returned NULL");
            }
            return p;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** {@code free(p)} through the critical binding. */
    static void freeCritical(MemorySegment p) {
        try {
            FREE_CRITICAL.invokeExact(p);
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

package org.tensorbuffer.cuda;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * Converts between JCuda's handle objects and the raw 64-bit values that {@link org.tensorbuffer.device.DeviceBuffer}
 * and the FFM bindings use.
 *
 * <p>JCuda keeps the native value of every handle ({@code CUdeviceptr}, {@code CUstream}, {@code CUdevice}, ...) in the
 * private field {@code NativePointerObject.nativePointer}, plus {@code Pointer.byteOffset} for pointers; its JNI code
 * uses {@code nativePointer + byteOffset}. This class reads and writes those fields through {@link VarHandle}s (JCuda
 * is on the class path, so its packages are open to us). Stateless and thread-safe.
 */
final class JCudaHandles {
    private static final VarHandle NATIVE_POINTER;
    private static final VarHandle BYTE_OFFSET;

    static {
        try {
            NATIVE_POINTER = MethodHandles.privateLookupIn(NativePointerObject.class, MethodHandles.lookup())
                    .findVarHandle(NativePointerObject.class, "nativePointer", long.class);
            BYTE_OFFSET = MethodHandles.privateLookupIn(Pointer.class, MethodHandles.lookup())
                    .findVarHandle(Pointer.class, "byteOffset", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private JCudaHandles() {
    }

    /** The native value a JCuda handle stands for (a device address, a {@code CUstream}, a device ordinal, ...). */
    static long address(NativePointerObject handle) {
        long a = (long) NATIVE_POINTER.get(handle);
        if (handle instanceof Pointer) {
            a += (long) BYTE_OFFSET.get(handle);
        }
        return a;
    }

    /** Sets the native value of a fresh JCuda handle ({@code CUmodule}, {@code CUfunction}, ...) and returns it. */
    static <T extends NativePointerObject> T wrap(T handle, long value) {
        NATIVE_POINTER.set(handle, value);
        return handle;
    }

    /** A JCuda device pointer to the raw device address {@code address}. */
    static CUdeviceptr devicePointer(long address) {
        CUdeviceptr p = new CUdeviceptr();
        NATIVE_POINTER.set(p, address);
        return p;
    }
}

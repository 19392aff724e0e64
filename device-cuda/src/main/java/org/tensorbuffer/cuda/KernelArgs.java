package org.tensorbuffer.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import org.tensorbuffer.types.DType;

/**
 * The parameter list of one kernel launch, built in the order of the kernel's C signature, as
 * {@code cuLaunchKernel} wants it: an array of pointers, one to each argument's value.
 *
 * <p>Each argument is kept as the little-endian bytes of its C value (x86-64 and aarch64, the hosts CUDA runs on, are
 * little-endian), so what the tests inspect ({@link #value}) is exactly what the driver reads. Device pointers are
 * passed as their 64-bit address. Not thread-safe; build one per launch.
 */
final class KernelArgs {
    private final List<byte[]> values = new ArrayList<>(20);

    /** A device pointer ({@code T*}) at raw address {@code address}. */
    KernelArgs ptr(long address) {
        add(8).putLong(address);
        return this;
    }

    /** An {@code int}. */
    KernelArgs i32(int v) {
        add(4).putInt(v);
        return this;
    }

    /** A {@code long long}. */
    KernelArgs i64(long v) {
        add(8).putLong(v);
        return this;
    }

    /** A {@code float} for F32 kernels or a {@code double} for F64 kernels. */
    KernelArgs real(DType dtype, double v) {
        if (dtype == DType.F32) {
            add(4).putFloat((float) v);
        } else {
            add(8).putDouble(v);
        }
        return this;
    }

    /** An unsigned integer of {@code bytes} (1, 2, 4 or 8) bytes holding the low bits of {@code bits}. */
    KernelArgs bits(int bytes, long bits) {
        switch (bytes) {
            case 1 -> add(1).put((byte) bits);
            case 2 -> add(2).putShort((short) bits);
            case 4 -> add(4).putInt((int) bits);
            case 8 -> add(8).putLong(bits);
            default -> throw new IllegalArgumentException("no " + bytes + "-byte element kernels");
        }
        return this;
    }

    /**
     * A {@code struct Dims8 { long long v[8]; }} passed by value; {@code values} has at most 8 entries, the rest are 0.
     *
     * @throws IllegalArgumentException if {@code values} has more than 8 entries
     */
    KernelArgs dims8(long[] dims) {
        if (dims.length > 8) {
            throw new IllegalArgumentException("Dims8 holds 8 values, not " + dims.length);
        }
        ByteBuffer b = add(64);
        for (long d : dims) {
            b.putLong(d);
        }
        return this;
    }

    /** Number of arguments. */
    int count() {
        return values.size();
    }

    /** A copy of the bytes of argument {@code i} (its C value, little-endian). */
    byte[] value(int i) {
        return values.get(i).clone();
    }

    /** The {@code kernelParams} argument of {@code cuLaunchKernel}: a pointer to each argument's bytes. */
    Pointer toPointer() {
        NativePointerObject[] p = new NativePointerObject[values.size()];
        for (int i = 0; i < p.length; i++) {
            p[i] = Pointer.to(values.get(i));
        }
        return Pointer.to(p);
    }

    private ByteBuffer add(int bytes) {
        byte[] v = new byte[bytes];
        values.add(v);
        return ByteBuffer.wrap(v).order(ByteOrder.LITTLE_ENDIAN);
    }
}

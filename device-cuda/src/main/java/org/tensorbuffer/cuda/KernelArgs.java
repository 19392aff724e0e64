package org.tensorbuffer.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import org.tensorbuffer.types.DType;

/**
 * The parameter list of one kernel launch, built in the order of the kernel's C signature, as
 * {@code cuLaunchKernel} wants it: an array of pointers, one to each argument's value.
 *
 * <p>Device pointers are passed as their 64-bit address. Not thread-safe; build one per launch.
 */
final class KernelArgs {
    private final List<NativePointerObject> args = new ArrayList<>(20);

    /** A device pointer ({@code T*}) at raw address {@code address}. */
    KernelArgs ptr(long address) {
        args.add(Pointer.to(new long[] {address}));
        return this;
    }

    /** An {@code int}. */
    KernelArgs i32(int v) {
        args.add(Pointer.to(new int[] {v}));
        return this;
    }

    /** A {@code long long}. */
    KernelArgs i64(long v) {
        args.add(Pointer.to(new long[] {v}));
        return this;
    }

    /** A {@code float} for F32 kernels or a {@code double} for F64 kernels. */
    KernelArgs real(DType dtype, double v) {
        args.add(dtype == DType.F32 ? Pointer.to(new float[] {(float) v}) : Pointer.to(new double[] {v}));
        return this;
    }

    /** An unsigned integer of {@code bytes} (1, 2, 4 or 8) bytes holding the low bits of {@code bits}. */
    KernelArgs bits(int bytes, long bits) {
        args.add(switch (bytes) {
            case 1 -> Pointer.to(new byte[] {(byte) bits});
            case 2 -> Pointer.to(new short[] {(short) bits});
            case 4 -> Pointer.to(new int[] {(int) bits});
            case 8 -> Pointer.to(new long[] {bits});
            default -> throw new IllegalArgumentException("no " + bytes + "-byte element kernels");
        });
        return this;
    }

    /** A {@code struct Dims8 { long long v[8]; }} passed by value; {@code values} has at most 8 entries. */
    KernelArgs dims8(long[] values) {
        long[] v = new long[8];
        System.arraycopy(values, 0, v, 0, values.length);
        args.add(Pointer.to(v));
        return this;
    }

    /** The {@code kernelParams} argument of {@code cuLaunchKernel}. */
    Pointer toPointer() {
        return Pointer.to(args.toArray(NativePointerObject[]::new));
    }
}

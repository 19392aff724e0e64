package org.tensorbuffer.einsum;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;

/**
 * The input operands of an {@link Instance}: generated from a seed, or read from {@code .npy} files.
 *
 * <p>The seeded generator: one {@link SplittableRandom}{@code (seed)} draws {@code u = nextDouble()} for every
 * element of operand 0, 1, ... in turn (row-major order); element = {@code (2u - 1) * sqrt(3) * prod_d dim_d^(-1/4)}
 * over the operand's dimensions. The values have mean 0 and standard deviation {@code prod_d dim_d^(-1/4)}, so that
 * contracting a bond of size {@code d} (a sum of {@code d} random terms, growing like {@code sqrt(d)}) is balanced by
 * the factors {@code d^(-1/4)} of its two operands and deep networks (100 chained matrices, 200-site MPS) neither
 * overflow nor underflow. {@code scripts/einsum_reference.py} implements the same sequence with NumPy.
 */
public final class Operands {
    private Operands() {
    }

    /** The seeded values of every operand (see the class comment), as host arrays. */
    public static List<double[]> seededValues(Instance inst, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<double[]> out = new ArrayList<>(inst.operandCount());
        for (int k = 0; k < inst.operandCount(); k++) {
            long[] s = inst.shape(k);
            double scale = Math.sqrt(3.0);
            long n = 1;
            for (long d : s) {
                scale *= Math.pow(d, -0.25);
                n = Math.multiplyExact(n, d);
            }
            double[] v = new double[Math.toIntExact(n)];
            for (int i = 0; i < v.length; i++) {
                v[i] = (2.0 * rnd.nextDouble() - 1.0) * scale;
            }
            out.add(v);
        }
        return out;
    }

    /** The seeded operands as tensors of {@code ctx}; the caller closes them. */
    public static List<Tensor> seeded(Instance inst, long seed, TensorContext ctx) {
        List<double[]> values = seededValues(inst, seed);
        List<Tensor> out = new ArrayList<>(values.size());
        for (int k = 0; k < values.size(); k++) {
            out.add(ctx.fromArray(values.get(k), Shape.of(inst.shape(k))));
        }
        return out;
    }

    /**
     * Operand {@code k} from {@code dir/k.npy} for every {@code k}, each checked against the instance's shape.
     *
     * @throws NpyFormatException naming the file if one is missing the right dtype, order or shape
     * @throws IOException        if a file cannot be read
     */
    public static List<Tensor> fromNpy(Instance inst, Path dir, TensorContext ctx) throws IOException {
        List<Tensor> out = new ArrayList<>(inst.operandCount());
        try {
            for (int k = 0; k < inst.operandCount(); k++) {
                Npy.Array a = Npy.read(dir.resolve(k + ".npy"), inst.shape(k));
                out.add(ctx.fromArray(a.data(), Shape.of(a.shape())));
            }
        } catch (IOException | RuntimeException e) {
            out.forEach(Tensor::close);
            throw e;
        }
        return out;
    }
}

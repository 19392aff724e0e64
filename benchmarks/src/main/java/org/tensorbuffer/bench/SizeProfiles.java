package org.tensorbuffer.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * Real allocation-size distributions for the random-size benchmark.
 *
 * <ul>
 *   <li>{@code tn415}: the 414 intermediate tensors of the einsum instance
 *       {@code tensornetwork_permutation_light_415} (float64, every dimension 2, {@code opt_size} path), from design
 *       note 001 (section 1, "intermediate size distribution") and recomputed from
 *       {@code shared/data/einsum/tensornetwork_permutation_light_415.json}: 22 distinct sizes from 8 B to 128 MiB,
 *       median 32 B, 74% at most 64 B, 219,832,072 bytes in all.</li>
 *   <li>{@code decode260K}: the 63 activation allocations of one decode step ({@code Transformer.forward}) of the
 *       llama2.c model {@code stories260K.bin} (header: dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab
 *       512, seq_len 512), float32: x [64]; per layer rmsnorm [64], the stacked q/k/v product [128], rotated q [64]
 *       and k [32], attention output [64], attention scratch [8, 512], wo output [64], rmsnorm [64], the stacked
 *       w1/w3 product [344], silu and product [172] each, w2 output [64]; then the final rmsnorm [64] and logits
 *       [512]. (Until round 9 of issue 14, q, k, v, w1 and w3 were separate products: 78 allocations.)</li>
 * </ul>
 */
public final class SizeProfiles {
    /** tn415 intermediate byte sizes (float64 elements x 8) and how many of the 414 have each. */
    static final long[] TN415_BYTES = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
        131072, 262144, 524288, 1048576, 2097152, 8388608, 33554432, 134217728};
    static final int[] TN415_COUNTS = {1, 22, 193, 90, 34, 18, 10, 10, 6, 4, 3, 2, 3, 3, 2, 2, 3, 1, 3, 1, 2, 1};

    private SizeProfiles() {
    }

    /** The distinct tn415 intermediate sizes in bytes, ascending (a copy). */
    public static long[] tn415Bytes() {
        return TN415_BYTES.clone();
    }

    /** How many of the 414 tn415 intermediates have each size of {@link #tn415Bytes()} (a copy). */
    public static int[] tn415Counts() {
        return TN415_COUNTS.clone();
    }

    /** The multiset of (shape, dtype) requests of one unit of the profile (414 for tn415, 63 for decode260K). */
    public static List<Shape> shapes(String profile) {
        List<Shape> out = new ArrayList<>();
        switch (profile) {
            case "tn415" -> {
                for (int i = 0; i < TN415_BYTES.length; i++) {
                    for (int k = 0; k < TN415_COUNTS[i]; k++) {
                        out.add(Shape.of(TN415_BYTES[i] / 8));
                    }
                }
            }
            case "decode260K" -> {
                // The allocations of Transformer.forward, in its order (SizeProfilesTest checks them against a recording).
                int dim = 64, hidden = 172, layers = 5, heads = 8, kvDim = 64 * 4 / 8, seqLen = 512, vocab = 512;
                out.add(Shape.of(dim)); // x
                for (int l = 0; l < layers; l++) {
                    out.add(Shape.of(dim)); // rmsnorm
                    out.add(Shape.of(dim + 2 * kvDim)); // q, k and v: one product with the stacked weight
                    out.add(Shape.of(dim)); // q rotated
                    out.add(Shape.of(kvDim)); // k rotated
                    out.add(Shape.of(dim)); // attention output
                    out.add(Shape.of(heads, seqLen)); // attention scratch
                    out.add(Shape.of(dim)); // wo @ attention
                    out.add(Shape.of(dim)); // rmsnorm
                    out.add(Shape.of(2 * hidden)); // w1 @ xb and w3 @ xb: one product with the stacked weight
                    out.add(Shape.of(hidden)); // silu
                    out.add(Shape.of(hidden)); // silu * (w3 @ xb)
                    out.add(Shape.of(dim)); // w2 @ ...
                }
                out.add(Shape.of(dim)); // final rmsnorm
                out.add(Shape.of(vocab)); // logits
            }
            default -> throw new IllegalArgumentException("unknown size profile '" + profile
                    + "' (expected tn415 or decode260K)");
        }
        return out;
    }

    /** The element type of the profile's tensors. */
    public static DType dtype(String profile) {
        return profile.equals("tn415") ? DType.F64 : DType.F32;
    }

    /** {@code n} draws (with replacement, fixed seed) from the profile's requests. */
    static Shape[] draws(String profile, int n) {
        List<Shape> all = shapes(profile);
        SplittableRandom r = new SplittableRandom(415);
        Shape[] out = new Shape[n];
        for (int i = 0; i < n; i++) {
            out[i] = all.get(r.nextInt(all.size()));
        }
        return out;
    }
}

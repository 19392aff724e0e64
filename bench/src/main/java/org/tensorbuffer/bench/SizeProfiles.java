package org.tensorbuffer.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.tensorbuffer.DType;
import org.tensorbuffer.Shape;

/**
 * Real allocation-size distributions for the random-size benchmark.
 *
 * <ul>
 *   <li>{@code tn415}: the 414 intermediate tensors of the einsum instance
 *       {@code tensornetwork_permutation_light_415} (float64, every dimension 2, {@code opt_size} path), from design
 *       note 001 (section 1, "intermediate size distribution") and recomputed from
 *       {@code shared/data/einsum/tensornetwork_permutation_light_415.json}: 22 distinct sizes from 8 B to 128 MiB,
 *       median 32 B, 74% at most 64 B, 219,832,072 bytes in all.</li>
 *   <li>{@code decode260K}: the activations of one decode step of the llama2.c model {@code stories260K.bin}
 *       (header: dim 64, hidden 172, 5 layers, 8 heads, 4 KV heads, vocab 512) at position 127, float32: per layer
 *       rmsnorm [64], q [64], k [32], v [32], attention scores [8, 128], attention output [64], wo output [64],
 *       rmsnorm [64], w1 and w3 outputs [172] each, w2 output [64]; then the final rmsnorm [64] and logits [512].</li>
 * </ul>
 */
final class SizeProfiles {
    /** tn415 intermediate byte sizes (float64 elements x 8) and how many of the 414 have each. */
    static final long[] TN415_BYTES = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
        131072, 262144, 524288, 1048576, 2097152, 8388608, 33554432, 134217728};
    static final int[] TN415_COUNTS = {1, 22, 193, 90, 34, 18, 10, 10, 6, 4, 3, 2, 3, 3, 2, 2, 3, 1, 3, 1, 2, 1};

    private SizeProfiles() {
    }

    /** The multiset of (shape, dtype) requests of one unit of the profile (414 for tn415, 62 for decode260K). */
    static List<Shape> shapes(String profile) {
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
                int dim = 64, hidden = 172, layers = 5, heads = 8, kvDim = 64 * 4 / 8, pos = 127, vocab = 512;
                for (int l = 0; l < layers; l++) {
                    out.add(Shape.of(dim));
                    out.add(Shape.of(dim));
                    out.add(Shape.of(kvDim));
                    out.add(Shape.of(kvDim));
                    out.add(Shape.of(heads, pos + 1));
                    out.add(Shape.of(dim));
                    out.add(Shape.of(dim));
                    out.add(Shape.of(dim));
                    out.add(Shape.of(hidden));
                    out.add(Shape.of(hidden));
                    out.add(Shape.of(dim));
                }
                out.add(Shape.of(dim));
                out.add(Shape.of(vocab));
            }
            default -> throw new IllegalArgumentException("unknown size profile '" + profile
                    + "' (expected tn415 or decode260K)");
        }
        return out;
    }

    /** The element type of the profile's tensors. */
    static DType dtype(String profile) {
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

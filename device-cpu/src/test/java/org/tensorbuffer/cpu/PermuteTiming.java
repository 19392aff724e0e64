package org.tensorbuffer.cpu;

import static org.tensorbuffer.cpu.NativeMemory.ALL;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Prints the time of {@link BlockedPermute#copy} on the largest float64 permutes of four einsum instances
 * ({@code str_nw_mera_open_26}, {@code gm_queen5_5_3.wcsp}, {@code str_nw_mera_closed_120} and
 * {@code tensornetwork_permutation_light_415} on opt_flops, as the einsum evaluator hands them to
 * {@code stridedCopy} after fusing: sizes innermost first, source strides in elements), beside one contiguous copy of
 * the same bytes (the memory-bandwidth floor); best of 5, milliseconds, one thread. Not a unit test; run with
 * {@code java --enable-native-access=ALL-UNNAMED --add-modules jdk.incubator.vector -cp
 * device-cpu/target/classes:device-cpu/target/test-classes:core/target/classes org.tensorbuffer.cpu.PermuteTiming}.
 */
public final class PermuteTiming {
    private PermuteTiming() {
    }

    public static void main(String[] args) {
        long[][][] cases = {
            {{9, 81, 9, 729, 3, 3}, {1, 27, 4782969, 2187, 9, 1594323}},
            {{5, 10, 177147}, {1, 885735, 5}},
            {{9, 4620, 10, 4, 6}, {1, 36, 997920, 9, 166320}},
            {{9, 110, 4620}, {1, 41580, 9}},
            {{3, 729, 3, 3, 3, 3, 3, 3, 9, 3, 3},
                {27, 729, 4782969, 43046721, 531441, 14348907, 1594323, 243, 3, 81, 1}},
            {{3, 3, 3, 3, 9, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
                {2187, 243, 4782969, 3, 27, 59049, 9, 531441, 729, 1594323, 14348907, 19683, 1, 177147, 6561}},
            {{27, 177147, 3, 3}, {1, 243, 81, 27}},
            {{3, 19683, 243}, {19683, 1, 59049}},
            // str_nw_mera_open_26's step-18 B operand since round 7 (81 MB, runs of 9)
            {{9, 243, 7, 5, 22, 6}, {1, 1386, 9, 336798, 63, 1683990}},
            // str_nw_mera_closed_120's largest, tensornetwork_permutation_light_415's largest (20 axes, 2^24 elements)
            {{9, 19, 3672, 54}, {1, 33048, 9, 627912}},
            {{2, 2, 8, 2, 8, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2},
                {1, 8, 64, 1024, 4096, 65536, 524288, 2097152, 8388608, 16, 131072, 1048576, 2, 512, 4194304, 2048,
                    262144, 4, 32, 32768}},
            {{32, 32, 16, 8, 2, 2, 2}, {1, 64, 4096, 131072, 65536, 32, 2048}},
        };
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        for (long[][] c : cases) {
            long[] dims = c[0];
            long[] strides = c[1];
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            long bytes = n * 8;
            long src = NativeMemory.allocate(bytes, 64);
            long dst = NativeMemory.allocate(bytes, 64);
            ALL.asSlice(src, bytes).fill((byte) 1);
            ALL.asSlice(dst, bytes).fill((byte) 2);
            double best = Double.MAX_VALUE;
            double bestCopy = Double.MAX_VALUE;
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                BlockedPermute.copy(src, dst, dims, strides, dims.length, 8);
                long t1 = System.nanoTime();
                MemorySegment.copy(ALL, src, ALL, dst, bytes);
                long t2 = System.nanoTime();
                best = Math.min(best, (t1 - t0) / 1e6);
                bestCopy = Math.min(bestCopy, (t2 - t1) / 1e6);
            }
            System.out.printf("%-60s %6.1f MB  permute %8.2f ms  memcpy %7.2f ms  ratio %5.2f%n",
                    Arrays.toString(dims), bytes / 1e6, best, bestCopy, best / bestCopy);
            NativeMemory.free(src);
            NativeMemory.free(dst);
        }
    }
}

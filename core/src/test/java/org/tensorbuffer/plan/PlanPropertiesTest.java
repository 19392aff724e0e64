package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Properties of every planning algorithm on random lifetimes, checked against plain-loop references (not against
 * {@link MemoryPlan#validate()}).
 */
class PlanPropertiesTest {

    record Workload(long[] bytes, long[] first, long[] last, long alignment) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder("align " + alignment + ":");
            for (int i = 0; i < bytes.length; i++) {
                sb.append(' ').append(bytes[i]).append('@').append(first[i]).append('-')
                        .append(last[i] == Long.MAX_VALUE ? "end" : String.valueOf(last[i]));
            }
            return sb.toString();
        }
    }

    @Provide
    Arbitrary<Workload> workloads() {
        Arbitrary<Integer> n = Arbitraries.integers().between(0, 60);
        Arbitrary<Long> align = Arbitraries.of(1L, 8L, 64L, 256L);
        Arbitrary<Long> seed = Arbitraries.longs();
        return Combinators.combine(n, align, seed).as((count, a, s) -> {
            java.util.SplittableRandom r = new java.util.SplittableRandom(s);
            long[] bytes = new long[count];
            long[] first = new long[count];
            long[] last = new long[count];
            for (int i = 0; i < count; i++) {
                // sizes across four orders of magnitude, some zero
                bytes[i] = r.nextInt(10) == 0 ? 0 : (long) Math.pow(10, r.nextDouble(0, 4));
                first[i] = r.nextInt(40);
                last[i] = r.nextInt(12) == 0 ? Long.MAX_VALUE : first[i] + r.nextInt(15);
            }
            return new Workload(bytes, first, last, a);
        });
    }

    @Property(tries = 200)
    void noTwoLiveTensorsOverlapAndArenaIsAtLeastTheLowerBound(@ForAll("workloads") Workload w) {
        AllocationTrace trace = AllocationTrace.ofLifetimes(w.bytes, w.first, w.last, w.alignment);
        long bound = referenceLowerBound(w);
        assertThat(trace.lowerBound()).isEqualTo(bound);
        for (PlanningAlgorithm alg : PlanningAlgorithm.values()) {
            MemoryPlan plan = alg.plan(trace);
            long end = 0;
            for (int i = 0; i < plan.size(); i++) {
                AllocationRecord ri = trace.get(i);
                assertThat(plan.offset(i) % w.alignment).as("%s alignment of %s", alg, ri).isZero();
                assertThat(plan.offset(i)).isNotNegative();
                end = Math.max(end, plan.offset(i) + ri.paddedBytes());
                for (int j = i + 1; j < plan.size(); j++) {
                    AllocationRecord rj = trace.get(j);
                    boolean liveTogether = ri.firstUse() <= rj.lastUse() && rj.firstUse() <= ri.lastUse();
                    boolean shareBytes = ri.bytes() > 0 && rj.bytes() > 0
                            && plan.offset(i) < plan.offset(j) + rj.bytes()
                            && plan.offset(j) < plan.offset(i) + ri.bytes();
                    assertThat(liveTogether && shareBytes).as("%s: %s and %s", alg, ri, rj).isFalse();
                }
            }
            assertThat(plan.arenaBytes()).isEqualTo(end);
            assertThat(plan.arenaBytes()).as(alg.name()).isGreaterThanOrEqualTo(bound);
            assertThat(plan.arenaBytes()).isLessThanOrEqualTo(trace.totalBytes());
        }
    }

    /** Tensors that are never live together all go to offset 0 (arena = largest tensor) under greedy by size. */
    @Property(tries = 100)
    void disjointLifetimesNeedOnlyTheLargestTensor(@ForAll @IntRange(min = 1, max = 50) int n,
                                                   @ForAll @IntRange(min = 1, max = 100_000) int maxBytes) {
        long[] bytes = new long[n];
        long[] first = new long[n];
        long[] last = new long[n];
        long largest = 0;
        for (int i = 0; i < n; i++) {
            bytes[i] = 1 + (long) i * 7919 % maxBytes;
            first[i] = 2L * i;
            last[i] = 2L * i + 1;
            largest = Math.max(largest, (bytes[i] + 63) & -64);
        }
        AllocationTrace trace = AllocationTrace.ofLifetimes(bytes, first, last, 64);
        assertThat(PlanningAlgorithm.GREEDY_BY_SIZE.plan(trace).arenaBytes()).isEqualTo(largest);
    }

    /** Max over integer times of the padded bytes live at that time, by brute force over the original times. */
    private static long referenceLowerBound(Workload w) {
        long maxT = 0;
        for (int i = 0; i < w.bytes.length; i++) {
            maxT = Math.max(maxT, Math.max(w.first[i], w.last[i] == Long.MAX_VALUE ? 0 : w.last[i]));
        }
        long best = 0;
        for (long t = 0; t <= maxT + 1; t++) {
            long sum = 0;
            for (int i = 0; i < w.bytes.length; i++) {
                if (w.first[i] <= t && t <= w.last[i]) {
                    sum += (w.bytes[i] + w.alignment - 1) / w.alignment * w.alignment;
                }
            }
            best = Math.max(best, sum);
        }
        return best;
    }
}

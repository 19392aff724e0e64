package org.tensorbuffer.einsum;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import com.google.gson.JsonArray;
import com.google.gson.JsonParser;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;

/**
 * The allocation profile of tensornetwork_permutation_light_415 against the design note
 * {@code 001-tn415-allocation-profile.md}: 414 intermediates, median 4 elements, largest 2^24 elements, 219,832,072
 * bytes in all, 22 distinct sizes, and the size distribution table.
 *
 * <p>The note's table rows "1K-8K elements: 9" and "1M-16M: 4" do not add up (its rows sum to 413, not its own 414);
 * the counts below for those rows (11 and 3) are what both our planner and the independent NumPy script
 * ({@code --sizes}) give; every other row, and the cumulative percentages up to 256-512, match the note exactly.
 */
class AllocationProfileTest {

    private static AllocationProfile tn415() throws Exception {
        Instance inst = Instance.read(TestSupport.instance("tensornetwork_permutation_light_415"));
        return AllocationProfile.of(Contraction.plan(inst, "opt_flops"), -1);
    }

    @Test
    void tn415ReproducesTheDesignNote() throws Exception {
        AllocationProfile p = tn415();
        long[] elems = Arrays.stream(p.intermediateBytes()).map(b -> b / 8).toArray();
        assertThat(p.intermediates()).isEqualTo(414);
        assertThat(p.medianIntermediateBytes()).isEqualTo(32.0); // 4 elements
        assertThat(Arrays.stream(elems).max().orElseThrow()).isEqualTo(1L << 24);
        assertThat(Arrays.stream(elems).min().orElseThrow()).isEqualTo(1L);
        assertThat(Arrays.stream(p.intermediateBytes()).sum()).isEqualTo(219_832_072L);
        assertThat(Arrays.stream(elems).distinct().count()).isEqualTo(22);
        assertThat(Arrays.stream(elems).filter(e -> e <= 8).count()).isEqualTo(306); // 73.9 %, the table's row

        // The note's distribution table: element range -> count.
        Map<String, Long> rows = new LinkedHashMap<>();
        long[][] ranges = {{1, 1}, {2, 2}, {4, 4}, {8, 8}, {16, 16}, {32, 32}, {64, 64}, {128, 128}, {256, 512},
                {1024, 8192}, {16384, 65536}, {131072, 262144}, {1 << 20, 1 << 23}, {1 << 24, 1 << 24}};
        for (long[] r : ranges) {
            rows.put(r[0] + "-" + r[1], Arrays.stream(elems).filter(e -> e >= r[0] && e <= r[1]).count());
        }
        assertThat(rows).containsExactly(Map.entry("1-1", 1L), Map.entry("2-2", 22L), Map.entry("4-4", 193L),
                Map.entry("8-8", 90L), Map.entry("16-16", 34L), Map.entry("32-32", 18L), Map.entry("64-64", 10L),
                Map.entry("128-128", 10L), Map.entry("256-512", 10L), Map.entry("1024-8192", 11L),
                Map.entry("16384-65536", 7L), Map.entry("131072-262144", 4L), Map.entry("1048576-8388608", 3L),
                Map.entry("16777216-16777216", 1L));

        // Power-of-two byte histogram of the intermediates.
        Map<Long, Integer> h = p.intermediateHistogram();
        assertThat(h.get(32L)).isEqualTo(193);
        assertThat(h.get(64L)).isEqualTo(90);
        assertThat(h.get(128L << 20)).isEqualTo(1);
        assertThat(h.values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(414);
        // Live at once: at least the 128 MiB intermediate and the operand it is made from.
        assertThat(p.livenessLowerBound()).isGreaterThanOrEqualTo(128L << 20).isLessThan(p.totalBytes());
    }

    @Test
    void tn415IntermediateSizesMatchTheNumpyScript() throws Exception {
        assumeThat(TestSupport.hasNumpy()).as("python3 with numpy").isTrue();
        TestSupport.Result r = TestSupport.reference(TestSupport.instance("tensornetwork_permutation_light_415")
                .toString(), "--sizes");
        assertThat(r.exit()).as(r.out()).isZero();
        // --sizes derives the sizes from the labels alone (an independent implementation of the keep rule).
        String line = r.out().lines().filter(l -> l.contains("\"sizes\"")).findFirst().orElseThrow();
        JsonArray sizes = JsonParser.parseString(line).getAsJsonObject().getAsJsonArray("sizes");
        long[] theirs = new long[sizes.size()];
        for (int i = 0; i < theirs.length; i++) {
            theirs[i] = sizes.get(i).getAsLong();
        }
        long[] ours = Arrays.stream(tn415().intermediateBytes()).map(b -> b / 8).toArray();
        assertThat(ours).containsExactly(theirs);
    }

    @Test
    void evaluationAllocatesWhatTheProfileSaysAndProactiveHitsEveryTime() throws Exception {
        Instance inst = Instance.read(TestSupport.instance("lm_batch_likelihood_brackets_4_4d"));
        Contraction plan = Contraction.plan(inst, "opt_flops");
        AllocationProfile prof = AllocationProfile.of(plan, -1);
        try (TensorContext ctx = TensorContext.create("cpu", AllocationStrategy.PROACTIVE)) {
            // Inputs first (they would take reserved blocks of their shape), then the reservations.
            List<Tensor> ops = Operands.seeded(inst, 1, ctx);
            prof.maxLivePerShape().forEach((s, n) -> ctx.tensorBuffer().reserve(s, DType.F64, n));
            Evaluator ev = new Evaluator(plan);
            long before = ctx.tensorBuffer().stats().requests();
            long hitsBefore = ctx.tensorBuffer().stats().hits();
            double first;
            try (Tensor r = ev.evaluate(ops, false)) {
                first = r.toDoubleArray()[7];
            }
            assertThat(ev.allocations()).isEqualTo(prof.allocations());
            assertThat(ctx.tensorBuffer().stats().requests() - before).isEqualTo(prof.allocations());
            assertThat(ctx.tensorBuffer().stats().hits() - hitsBefore).isEqualTo(prof.allocations());
            // Reserved blocks are exact: the measured peak is the lower bound.
            assertThat(ev.peakLiveBytes()).isEqualTo(prof.livenessLowerBound());
            long raw = ctx.rawAllocations();
            try (Tensor r = ev.evaluate(ops, true)) {
                assertThat(r.toDoubleArray()[7]).isEqualTo(first);
            }
            assertThat(ctx.rawAllocations()).as("no device allocation in a repeat").isEqualTo(raw);
            assertThat(ctx.pool().stats().liveBytes()).isZero();
        }
    }

    @Test
    void reactivePeakIsAtLeastTheLowerBoundAndRepeatsHitThePool() throws Exception {
        Instance inst = Instance.read(TestSupport.instance("str_matrix_chain_multiplication_100"));
        Contraction plan = Contraction.plan(inst, "opt_flops");
        AllocationProfile prof = AllocationProfile.of(plan, -1);
        try (TensorContext ctx = TensorContext.create("cpu", AllocationStrategy.REACTIVE)) {
            List<Tensor> ops = Operands.seeded(inst, 3, ctx);
            Evaluator ev = new Evaluator(plan);
            ev.evaluate(ops, false).close();
            assertThat(ev.peakLiveBytes()).isGreaterThanOrEqualTo(prof.livenessLowerBound());
            long raw = ctx.rawAllocations();
            ev.evaluate(ops, true).close();
            assertThat(ctx.rawAllocations()).as("the pool persists across evaluations").isEqualTo(raw);
            assertThat(ops).allMatch(Tensor::isClosed);
        }
    }
}

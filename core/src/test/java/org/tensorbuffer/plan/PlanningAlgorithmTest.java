package org.tensorbuffer.plan;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.tensorbuffer.chart.SvgCharts;

class PlanningAlgorithmTest {

    /** Chain a -> b -> c -> d where each tensor lives while the next is computed (an MLP's activations). */
    @Test
    void chainReusesMemoryAndMeetsTheLowerBound() {
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {100, 200, 100, 200}, new long[] {0, 1, 2, 3}, new long[] {1, 2, 3, 4}, 1);
        // live pairs: (a,b)=300, (b,c)=300, (c,d)=300
        assertThat(t.lowerBound()).isEqualTo(300);
        for (PlanningAlgorithm a : PlanningAlgorithm.values()) {
            MemoryPlan p = a.plan(t);
            assertThat(p.arenaBytes()).as(a.name()).isEqualTo(300);
            assertThat(p.ratio()).isEqualTo(1.0);
        }
        MemoryPlan bySize = PlanningAlgorithm.GREEDY_BY_SIZE.plan(t);
        // the two 200-byte tensors are disjoint in time: both at 0; the 100-byte ones above them
        assertThat(bySize.offsets()).containsExactly(200, 0, 200, 0);
    }

    /** Three phases that never overlap in time share the bottom of the arena. */
    @Test
    void disjointPhasesShareMemory() {
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {64, 128, 256, 128}, new long[] {0, 0, 2, 4}, new long[] {1, 1, 3, 5}, 64);
        // [0,1]: 64+128 = 192, [2,3]: 256, [4,5]: 128
        assertThat(t.lowerBound()).isEqualTo(256);
        assertThat(PlanningAlgorithm.GREEDY_BY_SIZE.plan(t).arenaBytes()).isEqualTo(256);
        assertThat(PlanningAlgorithm.GREEDY_BY_SIZE.plan(t).offset(2)).isZero();
        assertThat(PlanningAlgorithm.IN_ORDER_BEST_FIT.plan(t).arenaBytes()).isEqualTo(256);
        assertThat(PlanningAlgorithm.best(t).arenaBytes()).isEqualTo(256);
    }

    @Test
    void inOrderIsWorseWhenTheBigTensorComesLate() {
        // a [0,1] and b [0,3] land at 0 and 64 in order; when a dies, c (128) [2,3] does not fit below b: arena 256.
        // Greedy by size places c first, at 0, and both small ones fit: 192 = the lower bound.
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {64, 64, 128}, new long[] {0, 0, 2}, new long[] {1, 3, 3}, 64);
        assertThat(t.lowerBound()).isEqualTo(192);
        assertThat(PlanningAlgorithm.IN_ORDER_BEST_FIT.plan(t).arenaBytes()).isEqualTo(256);
        assertThat(PlanningAlgorithm.GREEDY_BY_SIZE.plan(t).arenaBytes()).isEqualTo(192);
        assertThat(PlanningAlgorithm.best(t).algorithm()).isEqualTo(PlanningAlgorithm.GREEDY_BY_SIZE);
    }

    @Test
    void escapedTensorsLiveToTheEnd() {
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {64, 64}, new long[] {0, 5}, new long[] {Long.MAX_VALUE, 6}, 64);
        assertThat(t.escapedCount()).isEqualTo(1);
        assertThat(t.lowerBound()).isEqualTo(128);
        assertThat(PlanningAlgorithm.GREEDY_BY_SIZE.plan(t).arenaBytes()).isEqualTo(128);
    }

    @Test
    void paddingCountsInTheLowerBound() {
        AllocationTrace t = AllocationTrace.ofLifetimes(new long[] {1, 65}, new long[] {0, 0}, new long[] {0, 0}, 64);
        assertThat(t.peakLiveBytes()).isEqualTo(66);
        assertThat(t.lowerBound()).isEqualTo(64 + 128);
        MemoryPlan p = PlanningAlgorithm.GREEDY_BY_SIZE.plan(t);
        assertThat(p.arenaBytes()).isEqualTo(192);
        assertThat(p.offset(0) % 64).isZero();
        assertThat(p.offset(1) % 64).isZero();
    }

    @Test
    void invalidPlansAreRejected() {
        AllocationTrace t = AllocationTrace.ofLifetimes(new long[] {64, 64}, new long[] {0, 0}, new long[] {1, 1}, 64);
        assertThatThrownBy(() -> new MemoryPlan(t, null, new long[] {0, 32}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not aligned");
        assertThatThrownBy(() -> new MemoryPlan(t, null, new long[] {0, 0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("overlap in memory");
        assertThat(new MemoryPlan(t, null, new long[] {64, 0}).arenaBytes()).isEqualTo(128);
    }

    @Test
    void parsesNames() {
        assertThat(PlanningAlgorithm.parse("greedy-by-size")).isEqualTo(PlanningAlgorithm.GREEDY_BY_SIZE);
        assertThat(PlanningAlgorithm.parse("GREEDY_BY_BREADTH")).isEqualTo(PlanningAlgorithm.GREEDY_BY_BREADTH);
        assertThatThrownBy(() -> PlanningAlgorithm.parse("optimal")).hasMessageContaining("optimal");
    }

    @Test
    void svgHasOneRectanglePerTensor() {
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {100, 200, 100}, new long[] {0, 1, 2}, new long[] {1, 2, 3}, 1);
        String svg = PlanSvg.render(PlanningAlgorithm.GREEDY_BY_SIZE.plan(t));
        assertThat(svg).startsWith("<svg");
        assertThat(svg.split("<title>", -1)).hasSize(4);
    }

    @Test
    void svgHasTickLabelsOnBothAxesAndAWrappedTitle() {
        AllocationTrace t = AllocationTrace.ofLifetimes(
                new long[] {100, 200, 100}, new long[] {0, 1, 2}, new long[] {1, 2, 3}, 1);
        MemoryPlan plan = PlanningAlgorithm.GREEDY_BY_SIZE.plan(t);
        String description = "plan of tn.json (contraction schedule, path opt_flops) · ./tensorbuffer plan "
                + "tn.json --svg plan.svg --algorithm greedy-by-size with a description long enough to need wrapping "
                + "onto a second line of the title";
        String svg = PlanSvg.render(plan, description);
        org.w3c.dom.Element root = SvgCharts.svgs(svg).get(0);
        // arena 300 B: offsets 0, 50, ..., 300 B; logical time 0..7: integer ticks 0, 1, ..., 7
        assertThat(SvgCharts.texts(root, "ytick")).containsExactly("0 B", "50 B", "100 B", "150 B", "200 B", "250 B",
                "300 B");
        SvgCharts.assertRoundTicks(SvgCharts.texts(root, "xtick"), "logical time");
        assertThat(SvgCharts.texts(root, "xlabel")).singleElement().asString().contains("logical time");
        assertThat(SvgCharts.texts(root, "ylabel")).singleElement().asString().contains("offset in the arena");
        // the title names what was planned and the command, wrapped at words; then the summary and what live means
        org.w3c.dom.NodeList lines = root.getElementsByTagName("tspan");
        StringBuilder joined = new StringBuilder();
        for (int i = 0; i < lines.getLength(); i++) {
            assertThat(lines.item(i).getTextContent().length()).isLessThanOrEqualTo((1200 - 120) / 7);
            joined.append(lines.item(i).getTextContent()).append(' ');
        }
        assertThat(lines.getLength()).isGreaterThanOrEqualTo(4);
        assertThat(joined.toString()).contains(description).contains("lower bound")
                .contains("Live here: the tensors in the trace only");
    }
}

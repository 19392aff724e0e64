package org.tensorbuffer.llama;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.plan.MemoryPlan;
import org.tensorbuffer.plan.PlanStats;
import org.tensorbuffer.plan.PlannedRun;

/** Decode steps replayed from a memory plan give the reactive strategy's logits, bit for bit, with no allocations. */
class PlannedDecodeTest {
    private static final int STEPS = 24;

    private static Path model(String name) {
        Path p = Path.of("..", "models", name);
        assumeTrue(Files.isReadable(p), "model " + p + " not present");
        return p;
    }

    /** Greedy decode for STEPS positions; returns every step's logits. */
    private static List<float[]> decode(Path model, AllocationStrategy s, long[] rawAfterFirstAndEnd,
                                        PlanStats[] stats, MemoryPlan[] plan) throws Exception {
        List<float[]> out = new ArrayList<>();
        try (Checkpoint ck = Checkpoint.open(model);
             TensorContext ctx = TensorContext.create(Devices.get("cpu"), s);
             Transformer t = Transformer.load(ck, ctx, "m")) {
            t.allocateCache();
            int token = Tokenizer.BOS;
            for (int pos = 0; pos < STEPS; pos++) {
                try (PlannedRun run = s == AllocationStrategy.PLANNED ? ctx.run() : null;
                     Tensor logits = t.forward(token, pos)) {
                    float[] l = logits.toFloatArray();
                    out.add(l);
                    token = argmax(l);
                }
                if (pos == 0) {
                    rawAfterFirstAndEnd[0] = ctx.rawAllocations();
                }
            }
            rawAfterFirstAndEnd[1] = ctx.rawAllocations();
            stats[0] = ctx.planner().stats();
            plan[0] = ctx.planner().plan();
        }
        return out;
    }

    private static int argmax(float[] a) {
        int b = 0;
        for (int i = 1; i < a.length; i++) {
            if (a[i] > a[b]) {
                b = i;
            }
        }
        return b;
    }

    @ParameterizedTest
    @ValueSource(strings = {"stories260K.bin", "aidreams260K.bin"})
    void replayedStepsEqualReactive(String name) throws Exception {
        Path m = model(name);
        long[] rawR = new long[2];
        long[] rawP = new long[2];
        PlanStats[] st = new PlanStats[1];
        MemoryPlan[] plan = new MemoryPlan[1];
        List<float[]> reactive = decode(m, AllocationStrategy.REACTIVE, rawR, new PlanStats[1], new MemoryPlan[1]);
        List<float[]> planned = decode(m, AllocationStrategy.PLANNED, rawP, st, plan);
        for (int pos = 0; pos < STEPS; pos++) {
            assertThat(planned.get(pos)).as("logits at position %d", pos).containsExactly(reactive.get(pos));
        }
        // the first step was recorded (pool) and planned: one arena; the other steps allocate nothing
        assertThat(st[0].recordedRuns()).isEqualTo(1);
        assertThat(st[0].arenaAllocations()).isEqualTo(1);
        assertThat(st[0].replayedRuns()).isEqualTo(STEPS - 1);
        assertThat(st[0].divergentRuns()).isZero();
        assertThat(st[0].plannedAllocations()).isEqualTo((long) (STEPS - 1) * plan[0].size());
        assertThat(rawP[1] - rawP[0]).as("device allocations after planning").isZero();
        assertThat(plan[0].ratio()).isLessThanOrEqualTo(1.05);
        assertThat(plan[0].arenaBytes()).isLessThan(plan[0].trace().totalBytes());
    }
}

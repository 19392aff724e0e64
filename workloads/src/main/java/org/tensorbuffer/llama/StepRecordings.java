package org.tensorbuffer.llama;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.tensorbuffer.memory.ReservationPlan;

/**
 * What one decode step of a model takes, recorded on the {@code meta} device once per {@link Config} in the JVM and
 * then reused: the {@link Transformer#recordStep(Checkpoint) reservation plan} that PROACTIVE reserves before every
 * decode, and the {@link Transformer#traceStep(Checkpoint) liveness lower bound} every decode reports. Both depend on
 * the hyperparameters only (the step allocates the same shapes in the same order for every checkpoint of a config),
 * so a second decode of a model in the same process does not run a step on the meta device and the planner again.
 *
 * <p>Why it matters beyond the milliseconds saved: that set-up code ran once per decode, so in a process that decodes
 * many times (the warm {@code compare}) its methods kept crossing the JIT's thresholds decode after decode, and
 * their C1/C2 compiles (the planner's O(n²) loops: 120-350 ms each in C2) ran on the decoding thread's CPU during the
 * next timed decodes; the meta-device step also fed the meta device's kernel classes into the type profiles of the
 * real step's call sites (docs/benchmarks.md, issue 14, "Round 7").
 *
 * <p>Thread-safe. Holds one small plan and one {@code long} per distinct config seen, for the life of the JVM.
 */
final class StepRecordings {
    private static final Map<Config, ReservationPlan> PLANS = new ConcurrentHashMap<>();
    private static final Map<Config, Long> LOWER_BOUNDS = new ConcurrentHashMap<>();

    private StepRecordings() {
    }

    /** {@link Transformer#recordStep(Checkpoint, String) recordStep(checkpoint, "meta")}, once per config. */
    static ReservationPlan plan(Checkpoint checkpoint) {
        Config c = checkpoint.config();
        ReservationPlan p = PLANS.get(c);
        if (p == null) {
            // recorded outside the map's lock (it loads the model on a meta context); a racing thread records the same
            p = Transformer.recordStep(checkpoint, "meta");
            PLANS.putIfAbsent(c, p);
        }
        return p;
    }

    /** {@link Transformer#traceStep(Checkpoint)}'s {@code lowerBound()}, once per config. */
    static long lowerBound(Checkpoint checkpoint) {
        Config c = checkpoint.config();
        Long b = LOWER_BOUNDS.get(c);
        if (b == null) {
            b = Transformer.traceStep(checkpoint).lowerBound();
            LOWER_BOUNDS.putIfAbsent(c, b);
        }
        return b;
    }
}

package org.tensorbuffer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.einsum.Contraction;
import org.tensorbuffer.einsum.Evaluator;
import org.tensorbuffer.einsum.Instance;
import org.tensorbuffer.einsum.Operands;

/**
 * Workload benchmark: one evaluation of an einsum-benchmark instance (all pairwise contractions of its
 * {@code opt_flops} path, with the allocations and frees of every intermediate) per allocation strategy, as
 * {@code tensorbuffer einsum} times it. Inputs are made once per trial (seed 42) and kept; with {@code proactive}
 * every shape of the plan is reserved first, as many as are live at once. The default instance,
 * {@code str_matrix_chain_multiplication_100} (99 steps), takes tens of milliseconds; {@code -p
 * instance=tensornetwork_permutation_light_415} runs the design note's instance (414 steps, seconds each). Instances
 * are read from {@code data/einsum/} under {@code -Dtensorbuffer.home} or above the working directory.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class EinsumBenchmark {
    /** Allocation strategy: none, reactive, proactive or planned (each op one planned run: recorded, then replayed). */
    @Param({"none", "reactive", "proactive", "planned"})
    public String strategy;

    /** Instance file name without {@code .json}. */
    @Param({"str_matrix_chain_multiplication_100"})
    public String instance;

    private TensorContext ctx;
    private boolean planned;
    private List<Tensor> inputs;
    private Evaluator evaluator;

    /** Reads and plans the instance, makes the inputs, reserves (proactive). */
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        Instance inst = Instance.read(instanceFile(instance));
        Contraction plan = Contraction.plan(inst, "opt_flops");
        ctx = TensorContext.create(BenchDevices.device(), AllocationStrategy.parse(strategy));
        planned = ctx.strategy() == AllocationStrategy.PLANNED;
        inputs = Operands.seeded(inst, 42, ctx);
        if (ctx.strategy() == AllocationStrategy.PROACTIVE) {
            ctx.tensorBuffer().reserve(Evaluator.recordEvaluation(plan)); // one evaluation recorded on meta
        }
        evaluator = new Evaluator(plan);
    }

    /** Closes the inputs and the context. */
    @TearDown(Level.Trial)
    public void tearDown() {
        inputs.forEach(Tensor::close);
        ctx.close();
    }

    /** One evaluation; the result is closed at once. */
    @Benchmark
    public long evaluate() {
        try (PlannedRun run = planned ? ctx.run() : null; Tensor r = evaluator.evaluate(inputs, false)) {
            return r.shape().elementCount();
        }
    }

    /** {@code data/einsum/NAME.json} of the repository. */
    public static Path instanceFile(String name) {
        String home = System.getProperty("tensorbuffer.home");
        if (home != null && Files.isRegularFile(Path.of(home, "data", "einsum", name + ".json"))) {
            return Path.of(home, "data", "einsum", name + ".json");
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path f = p.resolve("data").resolve("einsum").resolve(name + ".json");
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new IllegalStateException("data/einsum/" + name + ".json not found: set -Dtensorbuffer.home=REPO");
    }
}

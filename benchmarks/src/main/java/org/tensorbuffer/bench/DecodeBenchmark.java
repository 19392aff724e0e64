package org.tensorbuffer.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.tensorbuffer.llama.Checkpoint;
import org.tensorbuffer.llama.Tokenizer;
import org.tensorbuffer.llama.Transformer;

/**
 * Workload benchmark: one decode token ({@link Transformer#forward} + greedy argmax) of the bundled
 * {@code models/stories260K.bin} per allocation strategy, positions cycling through 0..{@value #POSITIONS}-1 (the
 * cost of attention grows with the position, so the figure is the mean over those positions). Each benchmark thread
 * decodes its own sequence with its own context and model. The model is found under {@code -Dtensorbuffer.home}
 * (set by the launcher), {@code -Dtensorbuffer.bench.model=PATH}, or a {@code models/} directory above the working
 * directory.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class DecodeBenchmark {
    /** Positions a sequence runs through before it starts again at 0. */
    static final int POSITIONS = 256;

    /** Allocation strategy: none, reactive, proactive or planned (each op one planned run: recorded, then replayed). */
    @Param({"none", "reactive", "proactive", "planned"})
    public String strategy;

    private Checkpoint checkpoint;
    private TensorContext ctx;
    private boolean planned;
    private Transformer model;
    private int token;
    private int pos;

    /** Loads the model into a context of the strategy, reserves (proactive) and allocates the KV cache. */
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        checkpoint = Checkpoint.open(modelPath());
        ctx = TensorContext.create(BenchDevices.device(), AllocationStrategy.parse(strategy));
        planned = ctx.strategy() == AllocationStrategy.PLANNED;
        model = Transformer.load(checkpoint, ctx, "jmh");
        if (ctx.strategy() == AllocationStrategy.PROACTIVE) {
            model.reserve();
        }
        model.allocateCache();
        token = Tokenizer.BOS;
    }

    /** Closes model, context and checkpoint. */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        model.close();
        ctx.close();
        checkpoint.close();
    }

    /** One token: forward at the current position, greedy next token. */
    @Benchmark
    public int decodeToken() {
        try (PlannedRun run = planned ? ctx.run() : null; Tensor logits = model.forward(token, pos)) {
            token = (int) logits.argmax();
        }
        pos = (pos + 1) % POSITIONS;
        if (pos == 0) {
            token = Tokenizer.BOS;
        }
        return token;
    }

    static Path modelPath() {
        String explicit = System.getProperty("tensorbuffer.bench.model");
        if (explicit != null) {
            return Path.of(explicit);
        }
        String home = System.getProperty("tensorbuffer.home");
        if (home != null && Files.isRegularFile(Path.of(home, "models", "stories260K.bin"))) {
            return Path.of(home, "models", "stories260K.bin");
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path m = p.resolve("models").resolve("stories260K.bin");
            if (Files.isRegularFile(m)) {
                return m;
            }
        }
        throw new IllegalStateException("models/stories260K.bin not found: set -Dtensorbuffer.home=REPO or "
                + "-Dtensorbuffer.bench.model=PATH");
    }
}

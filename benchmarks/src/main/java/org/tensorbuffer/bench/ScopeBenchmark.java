package org.tensorbuffer.bench;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.tensorbuffer.AllocationStrategy;
import org.tensorbuffer.MemoryScope;
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The synchronous {@link MemoryScope#call} on the hit path: a scope whose body creates a temporary and a result
 * (64-byte float32 tensors, thread-cache hits of the reactive pool once warm), releases the temporary at the end and
 * lets the result escape, which the caller then closes. {@code emptyCall} is the scope alone, {@code noScope} the
 * same two tensors created and closed without a scope (the floor). Used to check that asynchronous scopes
 * ({@link MemoryScope#callAsync}) cost the synchronous scope nothing; results in ns/op, see docs/benchmarks.md.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ScopeBenchmark {
    private static final Shape SHAPE = Shape.of(16);

    private TensorContext ctx;

    /** A reactive context on the benchmark device, warmed so that every take is a thread-cache hit. */
    @Setup(Level.Trial)
    public void setUp() {
        ctx = TensorContext.create(BenchDevices.device(), AllocationStrategy.REACTIVE);
        for (int i = 0; i < 1000; i++) {
            ctx.empty(SHAPE, DType.F32).close();
        }
    }

    /** Closes the context and its pool. */
    @TearDown(Level.Trial)
    public void tearDown() {
        ctx.close();
    }

    /** {@code MemoryScope.call} creating a temporary (released by the scope) and a result (escapes, then closed). */
    @Benchmark
    public Tensor callHit() {
        Tensor r = MemoryScope.call(() -> {
            ctx.empty(SHAPE, DType.F32);
            return ctx.empty(SHAPE, DType.F32);
        });
        r.close();
        return r;
    }

    /** {@code MemoryScope.call} with an empty body: the scope's own cost. */
    @Benchmark
    public Object emptyCall() {
        return MemoryScope.call(() -> SHAPE);
    }

    /** The two tensors of {@link #callHit()} created and closed without a scope. */
    @Benchmark
    public Tensor noScope() {
        ctx.empty(SHAPE, DType.F32).close();
        Tensor r = ctx.empty(SHAPE, DType.F32);
        r.close();
        return r;
    }
}

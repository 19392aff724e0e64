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
import org.tensorbuffer.Tensor;
import org.tensorbuffer.TensorContext;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.observe.MemoryCounters;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * What the context-wide statistics ({@link MemoryCounters}, behind {@code memoryStats()}) cost each tensor allocation
 * and free, shared by all benchmark threads ({@code Scope.Benchmark}) as a context is shared by an application's
 * threads: {@code counters} is one {@code allocated} + {@code freed} pair on {@link MemoryCounters} (one
 * {@code synchronized} update per call), {@code atomicCounters} the same on {@link AtomicMemoryCounters} (the lock-free
 * alternative with exact peaks, evaluated and not adopted), and {@code contextEmptyClose} a whole {@code ctx.empty} + {@code close} of a 64-byte float32 tensor on a
 * reactive context (a pool thread-cache hit, with the counters' update inside it). Run with {@code -t 1,2,4}; results
 * in ns/op, see docs/benchmarks.md.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MemoryCountersBenchmark {
    private static final Shape SHAPE = Shape.of(16);

    private final MemoryCounters counters = new MemoryCounters();
    private final AtomicMemoryCounters atomic = new AtomicMemoryCounters();
    private BufferPool pool;
    private Block block;
    private TensorContext ctx;

    /** A 64-byte block to count, and a reactive context warmed so that every tensor is a thread-cache hit. */
    @Setup(Level.Trial)
    public void setUp() {
        pool = BufferPool.builder(BenchDevices.device()).name("jmh-counters").build();
        block = pool.take(64);
        ctx = TensorContext.create(BenchDevices.device(), AllocationStrategy.REACTIVE);
        for (int i = 0; i < 1000; i++) {
            ctx.empty(SHAPE, DType.F32).close();
        }
    }

    /** Checks that every allocation counted was also freed, then closes what it opened. */
    @TearDown(Level.Trial)
    public void tearDown() {
        if (counters.get("allocated_bytes", "all", "current") != 0
                || atomic.get("allocated_bytes", "all", "current") != 0) {
            throw new IllegalStateException("counters do not balance: " + counters.snapshot());
        }
        block.close();
        pool.close();
        ctx.close();
    }

    /** {@link MemoryCounters#allocated} + {@link MemoryCounters#freed} of a 64-byte block. */
    @Benchmark
    public void counters() {
        counters.allocated(block, 64, SHAPE, DType.F32, null);
        counters.freed(block, 0, 64);
    }

    /** The same pair on the lock-free alternative ({@link AtomicMemoryCounters}). */
    @Benchmark
    public void atomicCounters() {
        atomic.allocated(block, 64, SHAPE, DType.F32, null);
        atomic.freed(block, 0, 64);
    }

    /** {@code ctx.empty([16], F32)} + {@code close()} on a shared reactive context. */
    @Benchmark
    public Tensor contextEmptyClose() {
        Tensor t = ctx.empty(SHAPE, DType.F32);
        t.close();
        return t;
    }
}

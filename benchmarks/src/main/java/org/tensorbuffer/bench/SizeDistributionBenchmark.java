package org.tensorbuffer.bench;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
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
import org.openjdk.jmh.infra.BenchmarkParams;
import org.openjdk.jmh.infra.ThreadParams;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.TensorBuffer;

/**
 * Allocations whose sizes are drawn from a real distribution ({@link SizeProfiles}: the tn415 einsum intermediates or
 * one decode step of stories260K), with liveness: each thread keeps its last {@value #LIVE} allocations alive, and one
 * operation frees the oldest and allocates the next drawn size. Compares the raw device, the reactive pool, the
 * proactive TensorBuffer (every shape of the profile reserved, enough for the window on every thread) and
 * {@code malloc}/{@code free} through FFM. ns/op is per (free + allocate) pair.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class SizeDistributionBenchmark {
    /** Allocations each thread keeps alive. */
    static final int LIVE = 16;
    private static final int DRAWS = 1 << 12;

    /** Which distribution: {@code tn415} or {@code decode260K}. */
    @Param({"tn415", "decode260K"})
    public String profile;

    Device device;
    BufferPool pool;
    TensorBuffer tensorBuffer;
    DType dtype;
    Shape[] shapes;
    long[] bytes;

    /** Draws the sizes and reserves, per shape, the most that can be live at once on all threads. */
    @Setup(Level.Trial)
    public void setUp(BenchmarkParams params) {
        device = BenchDevices.device();
        pool = BufferPool.builder(device).name("jmh-distribution").maxCachedBytes(4L << 30).build();
        tensorBuffer = new TensorBuffer(pool, "jmh-distribution");
        dtype = SizeProfiles.dtype(profile);
        shapes = SizeProfiles.draws(profile, DRAWS);
        bytes = new long[DRAWS];
        for (int i = 0; i < DRAWS; i++) {
            bytes[i] = shapes[i].byteSize(dtype);
        }
        // Most of each shape live at once: a window of LIVE + 1 consecutive draws (cyclically).
        Map<Shape, Integer> most = new HashMap<>();
        for (int start = 0; start < DRAWS; start++) {
            Map<Shape, Integer> window = new HashMap<>();
            for (int k = 0; k <= LIVE; k++) {
                window.merge(shapes[(start + k) & (DRAWS - 1)], 1, Integer::sum);
            }
            window.forEach((s, c) -> most.merge(s, c, Math::max));
        }
        most.forEach((s, c) -> tensorBuffer.reserve(s, dtype, c * params.getThreads()));
    }

    /** Closes the TensorBuffer and the pool. */
    @TearDown(Level.Trial)
    public void tearDown() {
        tensorBuffer.close();
        pool.close();
    }

    /** One thread's window of live allocations and its position in the drawn sequence. */
    @State(Scope.Thread)
    public static class Window {
        int next;
        int slot;
        final Block[] blocks = new Block[LIVE];
        final DeviceBuffer[] raw = new DeviceBuffer[LIVE];
        final MemorySegment[] malloced = new MemorySegment[LIVE];
        Device device;

        /** Starts each thread at a different place in the sequence. */
        @Setup(Level.Trial)
        public void setUp(ThreadParams t, SizeDistributionBenchmark b) {
            next = t.getThreadIndex() * 997;
            device = b.device;
        }

        /** Frees whatever the window still holds. */
        @TearDown(Level.Iteration)
        public void drain() {
            for (int i = 0; i < LIVE; i++) {
                if (blocks[i] != null) {
                    blocks[i].close();
                    blocks[i] = null;
                }
                if (raw[i] != null) {
                    device.free(raw[i]);
                    raw[i] = null;
                }
                if (malloced[i] != null) {
                    NativeMalloc.free(malloced[i]);
                    malloced[i] = null;
                }
            }
        }

        int advance() {
            int i = next++ & (DRAWS - 1);
            slot = (slot + 1) & (LIVE - 1);
            return i;
        }
    }

    /** Raw device allocate + free. */
    @Benchmark
    public long rawDevice(Window w) {
        int i = w.advance();
        DeviceBuffer old = w.raw[w.slot];
        if (old != null) {
            device.free(old);
        }
        DeviceBuffer b = device.allocate(bytes[i], 64);
        w.raw[w.slot] = b;
        return b.address();
    }

    /** Reactive pool take + close. */
    @Benchmark
    public long bufferPool(Window w) {
        int i = w.advance();
        Block old = w.blocks[w.slot];
        if (old != null) {
            old.close();
        }
        Block b = pool.take(bytes[i]);
        w.blocks[w.slot] = b;
        return b.capacity();
    }

    /** Proactive TensorBuffer take + close (every shape reserved). */
    @Benchmark
    public long tensorBuffer(Window w) {
        int i = w.advance();
        Block old = w.blocks[w.slot];
        if (old != null) {
            old.close();
        }
        Block b = tensorBuffer.take(shapes[i], dtype);
        w.blocks[w.slot] = b;
        return b.capacity();
    }

    /** {@code malloc} + {@code free} through FFM. */
    @Benchmark
    public long mallocFree(Window w) {
        int i = w.advance();
        MemorySegment old = w.malloced[w.slot];
        if (old != null) {
            NativeMalloc.free(old);
        }
        MemorySegment p = NativeMalloc.malloc(bytes[i]);
        w.malloced[w.slot] = p;
        return p.address();
    }
}

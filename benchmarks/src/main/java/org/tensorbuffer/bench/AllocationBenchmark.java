package org.tensorbuffer.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
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
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.TensorBuffer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;

/**
 * One allocate + free of {@code size} bytes, per allocator: the raw device, the reactive {@link BufferPool} (take +
 * close, the thread-cache hit path once warm), the proactive {@link TensorBuffer} (take + close of a reserved
 * {@code [size/4]} float32 buffer), and as outside references Netty 4.2's {@link PooledByteBufAllocator} (direct
 * buffers, thread caches on for every thread: {@code directBuffer} + {@code release}), {@code malloc}/{@code free}
 * through the FFM API
 * (ordinary and critical downcalls),
 * {@link Arena#ofConfined()} and {@link Arena#ofShared()} allocate + close (arena memory is zeroed), and {@link ByteBuffer#allocateDirect}
 * (freed by the garbage collector, so its cost includes zeroing and the Cleaner).
 *
 * <p>The state is shared by all benchmark threads ({@code Scope.Benchmark}), as one pool is shared by an application's
 * threads; run with {@code -t 1, 2, 4} (the {@code bench} command does) to see contention. Results are in ns/op;
 * with {@code -prof gc} the {@code gc.alloc.rate.norm} figure is the Java heap bytes allocated per op (0 on the pool
 * and TensorBuffer hit paths).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class AllocationBenchmark {
    /** Bytes per allocation: 64 B, 4 KiB, 256 KiB, 16 MiB. */
    @Param({"64", "4096", "262144", "16777216"})
    public long size;

    private Device device;
    private BufferPool pool;
    private TensorBuffer tensorBuffer;
    private Shape shape;
    private PooledByteBufAllocator netty;

    /** Opens the device, a pool and a TensorBuffer with 8 reserved blocks of the size (enough for 8 threads). */
    @Setup(Level.Trial)
    public void setUp() {
        device = BenchDevices.device();
        pool = BufferPool.builder(device).name("jmh-allocation").build();
        tensorBuffer = new TensorBuffer(pool, "jmh-allocation");
        shape = Shape.of(size / DType.F32.byteSize());
        tensorBuffer.reserve(shape, DType.F32, 8);
        netty = new PooledByteBufAllocator(true, 0, PooledByteBufAllocator.defaultNumDirectArena(),
                PooledByteBufAllocator.defaultPageSize(), PooledByteBufAllocator.defaultMaxOrder(),
                PooledByteBufAllocator.defaultSmallCacheSize(), PooledByteBufAllocator.defaultNormalCacheSize(),
                true);
    }

    /** Closes the TensorBuffer and the pool (the device stays open, shared by the JVM). */
    @TearDown(Level.Trial)
    public void tearDown() {
        tensorBuffer.close();
        pool.close();
    }

    /** {@code Device.allocate} + {@code Device.free}: what every request costs without a pool. */
    @Benchmark
    public long rawDevice() {
        DeviceBuffer b = device.allocate(size, 64);
        long a = b.address();
        device.free(b);
        return a;
    }

    /** {@link BufferPool#take(long)} + {@link Block#close()}. */
    @Benchmark
    public long bufferPool() {
        Block b = pool.take(size);
        long a = b.capacity();
        b.close();
        return a;
    }

    /** {@link TensorBuffer#take(Shape, DType)} + {@link Block#close()} of a reserved shape. */
    @Benchmark
    public long tensorBuffer() {
        Block b = tensorBuffer.take(shape, DType.F32);
        long a = b.capacity();
        b.close();
        return a;
    }

    /**
     * Netty's {@link PooledByteBufAllocator#directBuffer(int, int)} + {@link ByteBuf#release()}, thread caches on for
     * all threads (outside anchor: the pooled allocator of the JVM ecosystem).
     */
    @Benchmark
    public long nettyPooled() {
        ByteBuf b = netty.directBuffer((int) size, (int) size);
        long a = b.capacity();
        b.release();
        return a;
    }

    /** {@code malloc} + {@code free} through ordinary FFM downcalls (outside reference). */
    @Benchmark
    public long mallocFree() {
        MemorySegment p = NativeMalloc.malloc(size);
        long a = p.address();
        NativeMalloc.free(p);
        return a;
    }

    /** {@code malloc} + {@code free} through critical FFM downcalls (no thread-state transition; outside reference). */
    @Benchmark
    public long mallocFreeCritical() {
        MemorySegment p = NativeMalloc.mallocCritical(size);
        long a = p.address();
        NativeMalloc.freeCritical(p);
        return a;
    }

    /** {@link Arena#ofConfined()}, one 64-byte aligned allocation, close (outside reference). */
    @Benchmark
    public long arenaConfined() {
        try (Arena a = Arena.ofConfined()) {
            return a.allocate(size, 64).address();
        }
    }

    /** {@link Arena#ofShared()}, one 64-byte aligned allocation, close (outside reference; close is a handshake). */
    @Benchmark
    public long arenaShared() {
        try (Arena a = Arena.ofShared()) {
            return a.allocate(size, 64).address();
        }
    }

    /** {@link ByteBuffer#allocateDirect(int)} (outside reference; zeroed, freed later by the GC's Cleaner). */
    @Benchmark
    public ByteBuffer allocateDirect() {
        return ByteBuffer.allocateDirect((int) size);
    }
}

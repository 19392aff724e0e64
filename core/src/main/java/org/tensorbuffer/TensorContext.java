package org.tensorbuffer;

import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Devices;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.BufferPool;
import org.tensorbuffer.memory.RawAllocatorMetric;
import org.tensorbuffer.memory.ShapeBuckets;
import org.tensorbuffer.memory.TensorBuffer;
import org.tensorbuffer.memory.BlockOwner;
import org.tensorbuffer.memory.ReservationListener;
import org.tensorbuffer.observe.AllocationListener;
import org.tensorbuffer.observe.MemoryCounters;
import org.tensorbuffer.observe.MemorySource;
import org.tensorbuffer.observe.MemoryStats;
import org.tensorbuffer.plan.MemoryPlan;
import org.tensorbuffer.plan.PlannedAllocator;
import org.tensorbuffer.plan.PlannedRun;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A session of tensor work on one device: the device, its {@link BufferPool} and {@link TensorBuffer}, and the
 * {@link AllocationStrategy} that decides where each new tensor's memory comes from. The factories ({@link #zeros},
 * {@link #empty}, {@link #fromArray}, ...) and every op's output go through {@link #allocate(Shape, DType)}.
 *
 * <p>Thread-safe: the pools are; the strategy is a volatile field that may be switched between workloads.
 *
 * <pre>{@code
 * try (TensorContext ctx = TensorContext.create(Devices.get("cpu"), AllocationStrategy.PROACTIVE)) {
 *     ctx.tensorBuffer().reserve(Shape.of(64), DType.F32, 4);
 *     try (Tensor a = ctx.ones(Shape.of(64), DType.F32); Tensor b = a.scale(2)) {
 *         float[] out = b.toFloatArray();
 *     }
 * }
 * }</pre>
 */
public final class TensorContext implements MemorySource, AutoCloseable {
    private final Device device;
    private final BufferPool pool;
    private final TensorBuffer tensorBuffer;
    private final RawAllocator raw;
    private final boolean ownsPools;
    private final PlannedAllocator planner;
    private volatile AllocationStrategy strategy;
    private final MemoryCounters counters = new MemoryCounters();
    private volatile AllocationListener allocationListener;
    private volatile ShapeBuckets shapeBuckets;

    private TensorContext(Device device, BufferPool pool, TensorBuffer tensorBuffer, AllocationStrategy strategy,
                          boolean ownsPools) {
        this.device = device;
        this.pool = pool;
        this.tensorBuffer = tensorBuffer;
        this.raw = new RawAllocator(device);
        this.strategy = strategy;
        this.ownsPools = ownsPools;
        this.planner = new PlannedAllocator(pool);
        ReservationListener reservations = new ReservationListener() {
            @Override
            public void reservationChanged(BlockOwner owner, long deltaBytes) {
                reservationChanged(owner, null, deltaBytes);
            }

            @Override
            public void reservationChanged(BlockOwner owner, DeviceBuffer buffer, long deltaBytes) {
                counters.reservationChanged(owner, deltaBytes);
                AllocationListener l = allocationListener;
                if (l != null) {
                    l.reservationChanged(owner, buffer, deltaBytes);
                }
            }
        };
        pool.reservationListener(reservations);
        tensorBuffer.reservationListener(reservations);
        raw.reservationListener(reservations);
        planner.reservationListener(reservations);
    }


    /** A context with its own pool (default limits) and TensorBuffer on {@code device}. */
    public static TensorContext create(Device device, AllocationStrategy strategy) {
        BufferPool pool = BufferPool.of(device);
        return new TensorContext(device, pool, new TensorBuffer(pool), strategy, true);
    }

    /** A context on the device with the given id ({@link Devices#get(String)}). */
    public static TensorContext create(String deviceId, AllocationStrategy strategy) {
        return create(Devices.get(deviceId), strategy);
    }

    /**
     * A context over an existing pool and TensorBuffer (which must be on the same device); closing the context does
     * not close them.
     *
     * @throws IllegalArgumentException if the TensorBuffer's fallback is not {@code pool}
     */
    public static TensorContext over(BufferPool pool, TensorBuffer tensorBuffer, AllocationStrategy strategy) {
        if (tensorBuffer.fallback() != pool) {
            throw new IllegalArgumentException(tensorBuffer + " falls back to " + tensorBuffer.fallback()
                    + ", not " + pool);
        }
        return new TensorContext(pool.device(), pool, tensorBuffer, strategy, false);
    }

    /** The device. */
    public Device device() {
        return device;
    }

    /** The reactive pool. */
    @Override
    public BufferPool pool() {
        return pool;
    }

    /** The proactive TensorBuffer. */
    @Override
    public TensorBuffer tensorBuffer() {
        return tensorBuffer;
    }

    /** The counters of the raw allocator used by {@link AllocationStrategy#NONE} (no caching). */
    @Override
    public RawAllocatorMetric raw() {
        return raw;
    }

    /** The liveness-based planner used by {@link AllocationStrategy#PLANNED} (falls back to {@link #pool()}). */
    @Override
    public PlannedAllocator planner() {
        return planner;
    }

    /**
     * Installs a memory plan for {@link AllocationStrategy#PLANNED} (one arena allocation); see
     * {@link PlannedAllocator#install(MemoryPlan)}.
     */
    public void installPlan(MemoryPlan plan) {
        planner.install(plan);
    }

    /**
     * Starts a planned run (records it if no plan is installed, replays the plan otherwise); see
     * {@link PlannedAllocator#beginRun()}. Only allocations under {@link AllocationStrategy#PLANNED} take part.
     */
    public void beginRun() {
        planner.beginRun();
    }

    /** Ends the planned run started by {@link #beginRun()}; see {@link PlannedAllocator#endRun()}. */
    public void endRun() {
        planner.endRun();
    }

    /** {@link #beginRun()} as a try-with-resources handle that ends the run on close. */
    public PlannedRun run() {
        return planner.run();
    }

    /** The current strategy. */
    public AllocationStrategy strategy() {
        return strategy;
    }

    /** Switches the strategy for tensors allocated from now on (existing tensors return to where they came from). */
    public void strategy(AllocationStrategy strategy) {
        this.strategy = strategy;
    }

    /** Device allocations made so far through this context's allocators (raw + pool + TensorBuffer + arenas). */
    public long rawAllocations() {
        return raw.rawAllocations() + pool.stats().rawAllocations() + tensorBuffer.stats().rawAllocations()
                + planner.rawAllocations();
    }

    /**
     * A block for a tensor of {@code shape} and {@code dtype}, from where the strategy says: NONE the device,
     * REACTIVE the pool, PROACTIVE the TensorBuffer then the pool, PLANNED the {@link #planner()} (an arena slice
     * when a run replays its plan, the pool while recording, after a divergence and outside runs).
     *
     * @throws org.tensorbuffer.memory.PoolOutOfMemoryException if the device is out of memory
     */
    public Block allocate(Shape shape, DType dtype) {
        return switch (strategy) {
            case NONE -> raw.take(shape.byteSize(dtype));
            case REACTIVE -> pool.take(shape.byteSize(dtype));
            case PROACTIVE -> {
                ShapeBuckets b = shapeBuckets;
                yield b == null ? tensorBuffer.take(shape, dtype) : b.take(tensorBuffer, shape, dtype);
            }
            case PLANNED -> planner.take(shape, dtype);
        };
    }

    /**
     * Installs (or with {@code null} removes) shape buckets for {@link AllocationStrategy#PROACTIVE}: a tensor whose
     * shape has no reservation of its own is served from its bucket's reservation ({@link ShapeBuckets#take}).
     */
    public void shapeBuckets(ShapeBuckets buckets) {
        this.shapeBuckets = buckets;
    }

    /** The installed shape buckets, or {@code null}. */
    public ShapeBuckets shapeBuckets() {
        return shapeBuckets;
    }

    /**
     * A tensor over a block the caller holds a reference to; the tensor takes over that reference. Statistics and
     * recorders count the block as allocated from now until this tensor closes (e.g. a weight over a TensorBuffer
     * learnable buffer counts as live while the model holds it).
     */
    public Tensor wrap(Block block, Shape shape, DType dtype) {
        if (block.capacity() < shape.byteSize(dtype)) {
            throw new IllegalArgumentException("block of " + block.capacity() + " bytes is too small for " + shape
                    + " " + dtype);
        }
        long requested = shape.byteSize(dtype);
        Tensor t = new Tensor(this, block, shape, dtype, 0, requested, true);
        allocated(block, requested, shape, dtype);
        return t;
    }

    /** An uninitialised tensor (its memory may hold a previous tensor's data). */
    public Tensor empty(Shape shape, DType dtype) {
        long requested = shape.byteSize(dtype);
        Block block = allocate(shape, dtype);
        Tensor t = new Tensor(this, block, shape, dtype, 0, requested, false);
        allocated(block, requested, shape, dtype);
        return t;
    }

    private void allocated(Block block, long requested, Shape shape, DType dtype) {
        counters.allocated(block, requested, shape, dtype, null);
        AllocationListener l = allocationListener;
        if (l != null) {
            l.allocated(block, requested, shape, dtype, strategy.name());
        }
    }

    /** Called by {@link Tensor} when the last reference to a block taken by {@link #empty} is released. */
    void freed(Block block, int generation, long requestedBytes) {
        counters.freed(block, generation, requestedBytes);
        AllocationListener l = allocationListener;
        if (l != null) {
            l.freed(block, generation, requestedBytes);
        }
    }

    /**
     * The counters behind {@link #memoryStats()}: every tensor allocation and free and every device reservation of
     * this context since it was created.
     */
    @Override
    public MemoryCounters memoryCounters() {
        return counters;
    }

    /** The listener installed by {@link #allocationListener(AllocationListener)} (e.g. a MemoryHistory), or null. */
    @Override
    public AllocationListener allocationListener() {
        return allocationListener;
    }

    /**
     * Installs (or with {@code null} removes) the one listener told of every tensor allocation and free and every
     * device reservation change of this context, e.g. {@code org.tensorbuffer.observe.MemoryHistory}. The context
     * installs its own reservation listener on its pool, TensorBuffer, raw allocator and planner; replacing those
     * (as {@code pool().reservationListener(...)}) stops this one and {@link #memoryStats()}'s segment figures.
     */
    @Override
    public void allocationListener(AllocationListener listener) {
        this.allocationListener = listener;
    }

    /**
     * Statistics of this context under the keys and meanings of {@code torch.cuda.memory_stats()}
     * ({@code allocated_bytes.all.current}, {@code reserved_bytes.all.peak}, ...) plus this project's own under
     * {@code tensorbuffer.*}; see {@link MemoryStats}.
     */
    public Map<String, Long> memoryStats() {
        return MemoryStats.of(this);
    }

    /** A tensor of zeros. */
    public Tensor zeros(Shape shape, DType dtype) {
        return full(shape, dtype, 0.0);
    }

    /** A tensor of ones. */
    public Tensor ones(Shape shape, DType dtype) {
        return full(shape, dtype, 1.0);
    }

    /** A tensor with every element set to {@code value} (converted to {@code dtype} as a Java cast would). */
    public Tensor full(Shape shape, DType dtype, double value) {
        Tensor t = empty(shape, dtype);
        try {
            device.fill(t.buffer(), t.byteOffset(), shape.elementCount(), dtype, value);
        } catch (RuntimeException | Error e) {
            t.close(); // the caller never sees it: give its memory back
            throw e;
        }
        return t;
    }

    /**
     * A float32 tensor holding {@code data} in row-major order.
     *
     * @throws IllegalArgumentException if {@code data.length} differs from the shape's element count
     */
    public Tensor fromArray(float[] data, Shape shape) {
        checkLength(data.length, shape);
        return upload(MemorySegment.ofArray(data), shape, DType.F32);
    }

    /** A float64 tensor holding {@code data} in row-major order (see {@link #fromArray(float[], Shape)}). */
    public Tensor fromArray(double[] data, Shape shape) {
        checkLength(data.length, shape);
        return upload(MemorySegment.ofArray(data), shape, DType.F64);
    }

    /** An int32 tensor holding {@code data} in row-major order (see {@link #fromArray(float[], Shape)}). */
    public Tensor fromArray(int[] data, Shape shape) {
        checkLength(data.length, shape);
        return upload(MemorySegment.ofArray(data), shape, DType.I32);
    }

    /** An int64 tensor holding {@code data} in row-major order (see {@link #fromArray(float[], Shape)}). */
    public Tensor fromArray(long[] data, Shape shape) {
        checkLength(data.length, shape);
        return upload(MemorySegment.ofArray(data), shape, DType.I64);
    }

    /**
     * A 1-D tensor {@code [start, start + step, ...]} of the values below {@code end} (above it for a negative
     * step), as NumPy's {@code arange}; F32, F64, I32 or I64.
     *
     * @throws IllegalArgumentException if {@code step} is 0 or the type is F16/BF16
     */
    public Tensor arange(double start, double end, double step, DType dtype) {
        if (step == 0 || Double.isNaN(step)) {
            throw new IllegalArgumentException("arange step must be non-zero, got " + step);
        }
        int n = (int) Math.max(0, Math.ceil((end - start) / step));
        Shape shape = Shape.of(n);
        return switch (dtype) {
            case F32 -> {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) {
                    a[i] = (float) (start + i * step);
                }
                yield fromArray(a, shape);
            }
            case F64 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) {
                    a[i] = start + i * step;
                }
                yield fromArray(a, shape);
            }
            case I32 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) {
                    a[i] = (int) (start + i * step);
                }
                yield fromArray(a, shape);
            }
            case I64 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) {
                    a[i] = (long) (start + i * step);
                }
                yield fromArray(a, shape);
            }
            default -> throw new IllegalArgumentException("arange does not support " + dtype);
        };
    }

    private static void checkLength(int length, Shape shape) {
        if (length != shape.elementCount()) {
            throw new IllegalArgumentException("array of " + length + " elements does not match shape " + shape
                    + " (" + shape.elementCount() + " elements)");
        }
    }

    private Tensor upload(MemorySegment host, Shape shape, DType dtype) {
        Tensor t = empty(shape, dtype);
        try {
            device.copyFromHost(host, 0, t.buffer(), t.byteOffset(), shape.byteSize(dtype));
        } catch (RuntimeException | Error e) {
            t.close(); // the caller never sees it: give its memory back
            throw e;
        }
        return t;
    }

    /**
     * Frees the planner's arena, and closes the pool and TensorBuffer if this context created them (reporting leaked
     * blocks).
     */
    @Override
    public void close() {
        planner.close();
        if (ownsPools) {
            tensorBuffer.close();
            pool.close();
        }
    }

    @Override
    public String toString() {
        return "TensorContext[" + device.id() + ", " + strategy + "]";
    }
}

package org.tensorbuffer;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.Locale;
import org.tensorbuffer.device.BinaryOp;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.leak.LeakDetector;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.memory.IllegalReferenceCountException;
import org.tensorbuffer.memory.UseAfterRecycleException;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * An n-dimensional array in device memory: a {@link Shape} and {@link DType} over a {@link Block}, contiguous and
 * row-major (C order) starting {@link #byteOffset()} bytes into the block.
 *
 * <p>Every op returns a new tensor whose memory comes from the owning {@link TensorContext}'s strategy (TensorBuffer,
 * then BufferPool, then the raw device); inputs are left unchanged. Views ({@link #reshape}, {@link #slice},
 * {@link #row}) share the block and hold a reference to it; the block goes back to where it came from when the last
 * tensor over it is closed.
 *
 * <p>Lifetime: a tensor starts with a reference count of 1. {@link #retain()} adds a reference, {@link #release()}
 * and {@link #close()} drop one; the last one gives the tensor's reference to its block back (and the block goes back
 * to its pool once no view holds it either). A tensor created while a {@link MemoryScope} is open on the thread
 * belongs to that scope, which releases it when it closes unless it was {@link MemoryScope#escape escaped}. With leak
 * detection on ({@link LeakDetector}), a tensor that is garbage-collected unreleased is reported and its memory
 * returned.
 *
 * <p>Safety: releasing past zero (a second {@link #close()}, one {@link #release()} too many) throws
 * {@link IllegalReferenceCountException} naming the tensor; any use of a closed tensor throws
 * {@link IllegalStateException}; any use of a tensor whose block has been recycled (by a bug elsewhere) throws
 * {@link org.tensorbuffer.memory.UseAfterRecycleException} thanks to the block's generation counter. Closing a tensor
 * that another thread's open synchronous scope owns throws {@link IllegalStateException}; a tensor of an
 * asynchronous scope ({@link MemoryScope#callAsync}) may be closed on any thread.
 *
 * <p>{@link #retain()} and {@link #release()} are atomic. Reading and running ops on one tensor from several threads
 * is safe as long as nobody releases its last reference meanwhile.
 */
public final class Tensor implements AutoCloseable {
    private static final VarHandle REF_CNT;

    static {
        try {
            REF_CNT = MethodHandles.lookup().findVarHandle(Tensor.class, "refCnt", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final TensorContext ctx;
    private final Block block;
    private final int generation;
    private final Shape shape;
    private final DType dtype;
    private final long byteOffset;
    /**
     * Bytes requested when the tensor's memory was counted ({@link TensorContext#empty}, {@link TensorContext#wrap});
     * -1 for a view of a wrapped tensor (not counted).
     */
    private final long requestedBytes;
    /** Made by {@link TensorContext#wrap}: its free is counted when it closes, not when its block is released. */
    private final boolean wrapped;
    /** References to this tensor; 0 once closed. */
    private volatile int refCnt;
    /** Leak tracker when this tensor was sampled, else null. */
    private final Cleaner.Cleanable leak;
    /**
     * The scope that owns this tensor and the index in its table (written by the scope's thread, or under an
     * asynchronous scope's monitor).
     */
    MemoryScope scope;
    int scopeIndex;

    Tensor(TensorContext ctx, Block block, Shape shape, DType dtype, long byteOffset, long requestedBytes,
           boolean wrapped) {
        this.ctx = ctx;
        this.requestedBytes = requestedBytes;
        this.wrapped = wrapped;
        this.block = block;
        this.generation = block.generation();
        this.shape = shape;
        this.dtype = dtype;
        this.byteOffset = byteOffset;
        REF_CNT.set(this, 1);
        this.leak = LeakDetector.shouldTrack()
                ? LeakDetector.track(this, toString(), shape.byteSize(dtype),
                        releaser(ctx, block, generation, requestedBytes, wrapped))
                : null;
        MemoryScope.register(this);
    }

    /** The leak detector's release action: must not capture the tensor. */
    private static Runnable releaser(TensorContext ctx, Block block, int generation, long requestedBytes,
                                     boolean wrapped) {
        return () -> releaseBlock(ctx, block, generation, requestedBytes, wrapped);
    }

    private static void releaseBlock(TensorContext ctx, Block block, int generation, long requestedBytes,
                                     boolean wrapped) {
        // a block recycled behind the tensor's back belongs to someone else now: never release their reference
        boolean last = block.releaseIfGeneration(generation);
        if ((last || wrapped) && requestedBytes >= 0) {
            ctx.freed(block, generation, requestedBytes);
        }
    }

    /** What a view counts: the block's request (freed with the block), nothing for a view of a wrapped tensor. */
    private long viewRequestedBytes() {
        return wrapped ? -1 : requestedBytes;
    }

    // ----------------------------------------------------------------------------------------------- accessors

    /** The shape. */
    public Shape shape() {
        return shape;
    }

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** The context that allocates this tensor's op results. */
    public TensorContext context() {
        return ctx;
    }

    /** The device the memory is on. */
    public Device device() {
        return ctx.device();
    }

    /** Number of elements. */
    public long elementCount() {
        return shape.elementCount();
    }

    /** Bytes of data ({@code elementCount * dtype.byteSize()}); the block may be larger. */
    public long byteSize() {
        return shape.byteSize(dtype);
    }

    /** The block behind this tensor. @throws IllegalStateException if closed or recycled */
    public Block block() {
        checkLive();
        return block;
    }

    /** The device buffer behind this tensor (data starts at {@link #byteOffset()}). @throws IllegalStateException if closed or recycled */
    public DeviceBuffer buffer() {
        checkLive();
        return block.buffer();
    }

    /** Offset of element 0 in bytes from the start of {@link #buffer()}. */
    public long byteOffset() {
        return byteOffset;
    }

    /** Whether the last reference has been released ({@link #close()}, {@link #release()}). */
    public boolean isClosed() {
        return refCnt <= 0;
    }

    /** Current reference count (0 once closed). */
    public int refCnt() {
        return refCnt;
    }

    /**
     * The scope that will release this tensor when it closes, or {@code null} if none owns it (after an asynchronous
     * scope has released the tensor: that closed scope, for the message of a later use).
     */
    public MemoryScope scope() {
        return scope;
    }

    /**
     * Throws if this tensor may not be used: closed, or its block recycled since the tensor was created.
     *
     * @throws IllegalStateException                             if closed
     * @throws org.tensorbuffer.memory.UseAfterRecycleException if the block has been recycled
     */
    public void checkLive() {
        if (refCnt <= 0) {
            throw new IllegalStateException(this + " is closed" + MemoryScope.releasedBy(scope));
        }
        block.checkGeneration(generation, this);
    }

    /**
     * Drops one reference, as {@link #release()}; the usual way to end a tensor's life (try-with-resources). Inside a
     * {@link MemoryScope} this is the creation reference: the scope forgets the tensor, and a reference
     * {@link #retain() retained} for someone else stays theirs to release.
     *
     * @throws IllegalReferenceCountException if the tensor is already closed (double close)
     * @throws IllegalStateException          if another thread's open {@link MemoryScope} owns the tensor
     * @throws org.tensorbuffer.memory.UseAfterRecycleException if the block was recycled behind the tensor's back
     */
    @Override
    public void close() {
        if (refCnt <= 0) {
            throw new IllegalReferenceCountException("double close of " + this + MemoryScope.releasedBy(scope));
        }
        checkCloser();
        try {
            block.checkGeneration(generation, this);
        } catch (UseAfterRecycleException e) {
            if (leak != null) {
                leak.clean(); // reported here; the leak detector must not release the block, which is not ours
            }
            throw e;
        }
        MemoryScope s = scope;
        if (s != null) {
            s.forget(this); // the creation reference, which the scope would release, is released here
        }
        release();
    }

    /**
     * Adds a reference: the tensor stays usable until it has been released once more than retained. Thread-safe.
     *
     * @return this tensor
     * @throws IllegalReferenceCountException if the tensor is already closed
     */
    public Tensor retain() {
        for (;;) {
            int c = refCnt;
            if (c <= 0) {
                throw new IllegalReferenceCountException("retain of " + this + " with reference count " + c
                        + " (already released)");
            }
            if (REF_CNT.compareAndSet(this, c, c + 1)) {
                return this;
            }
        }
    }

    /**
     * Drops a reference; the last one gives the tensor's reference to its block back (the block returns to its pool
     * when no view holds it either) and removes the tensor from its scope. Thread-safe.
     *
     * @return whether this was the last reference
     * @throws IllegalReferenceCountException if the count is already 0 (released more often than retained)
     * @throws IllegalStateException          if this would drop the last reference while another thread's open
     *                                        synchronous {@link MemoryScope} owns the tensor
     */
    public boolean release() {
        for (;;) {
            int c = refCnt;
            if (c <= 0) {
                throw new IllegalReferenceCountException("release of " + this + " with reference count " + c
                        + " (released more often than retained)");
            }
            if (c == 1) {
                checkCloser();
            }
            if (REF_CNT.compareAndSet(this, c, c - 1)) {
                if (c == 1) {
                    deallocate();
                    return true;
                }
                return false;
            }
        }
    }

    private void checkCloser() {
        MemoryScope s = scope;
        if (s != null) {
            s.checkRelease(this);
        }
    }

    private void deallocate() {
        if (leak != null) {
            leak.clean();
        }
        MemoryScope s = scope;
        if (s != null) {
            s.forget(this);
        }
        releaseBlock(ctx, block, generation, requestedBytes, wrapped);
    }

    // ----------------------------------------------------------------------------------------------- views

    /**
     * A view with the same elements in a new shape (same element count); shares the block.
     *
     * @throws IllegalArgumentException if the element counts differ
     */
    public Tensor reshape(Shape newShape) {
        checkLive();
        if (newShape.elementCount() != shape.elementCount()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " (" + shape.elementCount()
                    + " elements) to " + newShape + " (" + newShape.elementCount() + " elements)");
        }
        block.retain();
        return new Tensor(ctx, block, newShape, dtype, byteOffset, viewRequestedBytes(), false);
    }

    /** {@link #reshape(Shape)} with dimensions. */
    public Tensor reshape(long... dims) {
        return reshape(Shape.of(dims));
    }

    /**
     * A view of rows {@code start} (inclusive) to {@code end} (exclusive) along axis 0; shares the block.
     *
     * @throws IllegalArgumentException  for a scalar
     * @throws IndexOutOfBoundsException if the range is not inside {@code [0, dim(0)]}
     */
    public Tensor slice(long start, long end) {
        checkLive();
        if (shape.rank() == 0) {
            throw new IllegalArgumentException("cannot slice a scalar");
        }
        if (start < 0 || end < start || end > shape.dim(0)) {
            throw new IndexOutOfBoundsException("slice [" + start + ", " + end + ") of axis 0 of " + shape);
        }
        long[] dims = shape.dims();
        long rowBytes = dims[0] == 0 ? 0 : byteSize() / dims[0];
        dims[0] = end - start;
        block.retain();
        return new Tensor(ctx, block, Shape.of(dims), dtype, byteOffset + start * rowBytes, viewRequestedBytes(),
                false);
    }

    /** A view of row {@code i} of axis 0, with the remaining dimensions; shares the block. */
    public Tensor row(long i) {
        checkLive();
        if (shape.rank() == 0) {
            throw new IllegalArgumentException("cannot take a row of a scalar");
        }
        long[] dims = shape.dims();
        if (i < 0 || i >= dims[0]) {
            throw new IndexOutOfBoundsException("row " + i + " of axis 0 of " + shape);
        }
        long rowBytes = byteSize() / dims[0];
        block.retain();
        return new Tensor(ctx, block, Shape.of(Arrays.copyOfRange(dims, 1, dims.length)), dtype,
                byteOffset + i * rowBytes, viewRequestedBytes(), false);
    }

    // ----------------------------------------------------------------------------------------------- host data

    /** The elements as floats (F32 only), row-major. */
    public float[] toFloatArray() {
        requireType(DType.F32, "toFloatArray");
        float[] a = new float[shape.elementCountInt()];
        download(MemorySegment.ofArray(a));
        return a;
    }

    /** The elements as doubles (F64 only), row-major. */
    public double[] toDoubleArray() {
        requireType(DType.F64, "toDoubleArray");
        double[] a = new double[shape.elementCountInt()];
        download(MemorySegment.ofArray(a));
        return a;
    }

    /** The elements as ints (I32 only), row-major. */
    public int[] toIntArray() {
        requireType(DType.I32, "toIntArray");
        int[] a = new int[shape.elementCountInt()];
        download(MemorySegment.ofArray(a));
        return a;
    }

    /** The elements as longs (I64 only), row-major. */
    public long[] toLongArray() {
        requireType(DType.I64, "toLongArray");
        long[] a = new long[shape.elementCountInt()];
        download(MemorySegment.ofArray(a));
        return a;
    }

    /**
     * The single element of a one-element tensor of any shape ({@code []}, {@code [1]}, {@code [1, 1]}, ...) as a
     * double, like PyTorch's {@code Tensor.item()}. F32, F64, I32 and I64 are read; an I64 beyond 2^53 loses precision.
     *
     * @throws IllegalArgumentException if the tensor has more or fewer than one element
     * @throws UnsupportedOperationException for any other dtype
     */
    public double item() {
        if (shape.elementCount() != 1) {
            throw new IllegalArgumentException("item() of " + shape + " which has " + shape.elementCount()
                    + " elements");
        }
        return switch (dtype) {
            case F32 -> toFloatArray()[0];
            case F64 -> toDoubleArray()[0];
            case I32 -> toIntArray()[0];
            case I64 -> toLongArray()[0];
            default -> throw new UnsupportedOperationException("item() of " + dtype);
        };
    }

    private void download(MemorySegment dst) {
        checkLive();
        device().copyToHost(block.buffer(), byteOffset, dst, 0, byteSize());
    }

    /**
     * Overwrites this tensor's elements with {@code src}'s (same element count and dtype; shapes may differ).
     *
     * @throws IllegalArgumentException on a dtype or size mismatch or another device
     */
    public void copyFrom(Tensor src) {
        checkLive();
        src.checkLive();
        if (src.dtype != dtype || src.elementCount() != elementCount()) {
            throw new IllegalArgumentException("copyFrom " + src.shape + " " + src.dtype + " into " + shape + " "
                    + dtype);
        }
        sameDevice(src, "copyFrom");
        device().copy(src.block.buffer(), src.byteOffset, block.buffer(), byteOffset, byteSize());
    }

    /** Overwrites the elements with {@code data} (F32; same element count). */
    public void copyFrom(float[] data) {
        requireType(DType.F32, "copyFrom(float[])");
        uploadFrom(MemorySegment.ofArray(data), data.length);
    }

    /** Overwrites the elements with {@code data} (F64; same element count). */
    public void copyFrom(double[] data) {
        requireType(DType.F64, "copyFrom(double[])");
        uploadFrom(MemorySegment.ofArray(data), data.length);
    }

    private void uploadFrom(MemorySegment src, long length) {
        checkLive();
        if (length != elementCount()) {
            throw new IllegalArgumentException("array of " + length + " elements does not match " + shape);
        }
        device().copyFromHost(src, 0, block.buffer(), byteOffset, byteSize());
    }

    // ----------------------------------------------------------------------------------------------- ops

    private Kernels k() {
        return device().kernels();
    }

    private Tensor out(Shape s) {
        return ctx.empty(s, dtype);
    }

    /**
     * Matrix product, following NumPy's {@code matmul} for ranks 1-3: {@code [m,k] @ [k,n] -> [m,n]},
     * {@code [m,k] @ [k] -> [m]}, {@code [k] @ [k,n] -> [n]}, {@code [b,m,k] @ [b,k,n] -> [b,m,n]} (a batch of 1 or a
     * rank-2 operand broadcasts). F32/F64.
     *
     * @throws IllegalArgumentException naming both shapes if the inner dimensions or batches differ, or on a dtype
     *                                  mismatch
     */
    public Tensor matmul(Tensor b) {
        return matmul(b, false, false);
    }

    /**
     * {@code op(this) @ op(b)} where {@code op} transposes the last two axes when the flag is set (rank 2-3 only for a
     * transposed operand). See {@link #matmul(Tensor)}.
     */
    public Tensor matmul(Tensor b, boolean transA, boolean transB) {
        checkBinary(b, "matmul");
        requireFloat("matmul");
        Shape as = shape;
        Shape bs = b.shape;
        if (as.rank() == 0 || bs.rank() == 0 || as.rank() > 3 || bs.rank() > 3
                || (transA && as.rank() < 2) || (transB && bs.rank() < 2)) {
            throw new IllegalArgumentException("matmul of " + as + " and " + bs + " is not supported (ranks 1-3)");
        }
        // Normalise to [batch, rows, cols] views of the stored matrices.
        long aRows = as.rank() == 1 ? 1 : as.dim(-2);
        long aCols = as.dim(-1);
        long bRows = bs.rank() == 1 ? bs.dim(0) : bs.dim(-2);
        long bCols = bs.rank() == 1 ? 1 : bs.dim(-1);
        long aBatch = as.rank() == 3 ? as.dim(0) : 1;
        long bBatch = bs.rank() == 3 ? bs.dim(0) : 1;
        long m = transA ? aCols : aRows;
        long ka = transA ? aRows : aCols;
        long kb = transB ? bCols : bRows;
        long n = transB ? bRows : bCols;
        if (ka != kb || (aBatch != bBatch && aBatch != 1 && bBatch != 1)) {
            throw new IllegalArgumentException("matmul shape mismatch: " + as + (transA ? "^T" : "") + " @ " + bs
                    + (transB ? "^T" : ""));
        }
        long batch = Math.max(aBatch, bBatch);
        long[] outDims;
        if (as.rank() == 1 && bs.rank() == 1) {
            outDims = new long[0];
        } else if (as.rank() == 1) {
            outDims = bs.rank() == 3 ? new long[] {batch, n} : new long[] {n};
        } else if (bs.rank() == 1) {
            outDims = as.rank() == 3 ? new long[] {batch, m} : new long[] {m};
        } else {
            outDims = batch > 1 || as.rank() == 3 || bs.rank() == 3 ? new long[] {batch, m, n} : new long[] {m, n};
        }
        Tensor c = out(Shape.of(outDims));
        if (batch == 1) {
            k().gemm(dtype, transA, transB, Math.toIntExact(m), Math.toIntExact(n), Math.toIntExact(ka), 1.0,
                    block.buffer(), byteOffset, Math.toIntExact(aCols), b.block.buffer(), b.byteOffset,
                    Math.toIntExact(bCols), 0.0, c.block.buffer(), c.byteOffset, Math.toIntExact(n));
        } else {
            k().gemmStridedBatched(dtype, transA, transB, Math.toIntExact(m), Math.toIntExact(n),
                    Math.toIntExact(ka), 1.0, block.buffer(), byteOffset, Math.toIntExact(aCols),
                    aBatch == 1 ? 0 : aRows * aCols, b.block.buffer(), b.byteOffset, Math.toIntExact(bCols),
                    bBatch == 1 ? 0 : bRows * bCols, 0.0, c.block.buffer(), c.byteOffset, Math.toIntExact(n), m * n,
                    Math.toIntExact(batch));
        }
        return c;
    }

    /**
     * Batched matrix product over the tensors' flat row-major memory, with the result in any shape of the right
     * element count: this tensor holds {@code batch} matrices stored {@code m x k} (or {@code k x m} when
     * {@code transA}), {@code b} holds {@code batch} matrices stored {@code k x n} (or {@code n x k} when
     * {@code transB}), and the result, of shape {@code outShape}, holds the {@code batch} products {@code m x n}, one
     * after another. The shapes of the operands are ignored apart from their element counts, so an einsum planner can
     * multiply tensors of any rank without reshape views, and the result is allocated with the shape its caller will
     * use (which is what the proactive TensorBuffer is keyed by). F32/F64.
     *
     * @throws IllegalArgumentException if an element count differs from {@code batch*m*k}, {@code batch*k*n} or
     *                                  {@code batch*m*n}, a size is negative, or on a dtype mismatch
     */
    public Tensor bmm(Tensor b, long batch, long m, long n, long k, boolean transA, boolean transB, Shape outShape) {
        checkBinary(b, "bmm");
        requireFloat("bmm");
        if (batch < 0 || m < 0 || n < 0 || k < 0 || elementCount() != batch * m * k
                || b.elementCount() != batch * k * n || outShape.elementCount() != batch * m * n) {
            throw new IllegalArgumentException("bmm of " + shape + " and " + b.shape + " into " + outShape
                    + " does not fit batch " + batch + ", m " + m + ", n " + n + ", k " + k);
        }
        Tensor c = out(outShape);
        if (batch == 0 || m == 0 || n == 0) {
            return c;
        }
        int lda = Math.toIntExact(Math.max(1, transA ? m : k));
        int ldb = Math.toIntExact(Math.max(1, transB ? k : n));
        if (batch == 1) {
            k().gemm(dtype, transA, transB, Math.toIntExact(m), Math.toIntExact(n), Math.toIntExact(k), 1.0,
                    block.buffer(), byteOffset, lda, b.block.buffer(), b.byteOffset, ldb, 0.0, c.block.buffer(),
                    c.byteOffset, Math.toIntExact(n));
        } else {
            k().gemmStridedBatched(dtype, transA, transB, Math.toIntExact(m), Math.toIntExact(n),
                    Math.toIntExact(k), 1.0, block.buffer(), byteOffset, lda, m * k, b.block.buffer(), b.byteOffset,
                    ldb, k * n, 0.0, c.block.buffer(), c.byteOffset, Math.toIntExact(n), m * n,
                    Math.toIntExact(batch));
        }
        return c;
    }

    /** Elementwise sum with a tensor of the same shape and dtype. */
    public Tensor add(Tensor b) {
        return binary(BinaryOp.ADD, b);
    }

    /** Elementwise difference with a tensor of the same shape and dtype. */
    public Tensor sub(Tensor b) {
        return binary(BinaryOp.SUB, b);
    }

    /** Elementwise product with a tensor of the same shape and dtype. */
    public Tensor mul(Tensor b) {
        return binary(BinaryOp.MUL, b);
    }

    /** Elementwise quotient by a tensor of the same shape and dtype. */
    public Tensor div(Tensor b) {
        return binary(BinaryOp.DIV, b);
    }

    private Tensor binary(BinaryOp op, Tensor b) {
        checkBinary(b, op.name().toLowerCase(Locale.ROOT));
        requireFloat(op.name().toLowerCase(Locale.ROOT));
        if (!b.shape.equals(shape)) {
            throw new IllegalArgumentException(op.name().toLowerCase(Locale.ROOT) + " shape mismatch: " + shape
                    + " and " + b.shape);
        }
        Tensor c = out(shape);
        k().binary(op, dtype, block.buffer(), byteOffset, b.block.buffer(), b.byteOffset, c.block.buffer(),
                c.byteOffset, elementCount());
        return c;
    }

    /**
     * Adds {@code b} into this tensor in place ({@code this += b}); a residual connection. Same shape and dtype.
     */
    public void addInPlace(Tensor b) {
        checkBinary(b, "addInPlace");
        requireFloat("addInPlace");
        if (!b.shape.equals(shape)) {
            throw new IllegalArgumentException("addInPlace shape mismatch: " + shape + " and " + b.shape);
        }
        k().binary(BinaryOp.ADD, dtype, block.buffer(), byteOffset, b.block.buffer(), b.byteOffset,
                block.buffer(), byteOffset, elementCount());
    }

    /** {@code alpha * this}. */
    public Tensor scale(double alpha) {
        checkLive();
        requireFloat("scale");
        Tensor c = out(shape);
        k().scale(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset, elementCount(), alpha);
        return c;
    }

    /**
     * RMSNorm over the last axis with a weight vector of that length:
     * {@code weight * x / sqrt(mean(x^2) + eps)}, as llama2.c's {@code rmsnorm}.
     */
    public Tensor rmsnorm(Tensor weight, double eps) {
        checkBinary(weight, "rmsnorm");
        requireFloat("rmsnorm");
        if (shape.rank() == 0 || weight.shape.rank() != 1 || weight.shape.dim(0) != shape.dim(-1)) {
            throw new IllegalArgumentException("rmsnorm of " + shape + " needs a weight of shape [" + (shape.rank()
                    == 0 ? "?" : shape.dim(-1)) + "], got " + weight.shape);
        }
        int cols = Math.toIntExact(shape.dim(-1));
        int rows = cols == 0 ? 0 : Math.toIntExact(elementCount() / cols);
        Tensor c = out(shape);
        k().rmsnorm(dtype, block.buffer(), byteOffset, weight.block.buffer(), weight.byteOffset, c.block.buffer(),
                c.byteOffset, rows, cols, eps);
        return c;
    }

    /** Softmax over the last axis. */
    public Tensor softmax() {
        checkLive();
        requireFloat("softmax");
        if (shape.rank() == 0) {
            throw new IllegalArgumentException("softmax of a scalar");
        }
        int cols = Math.toIntExact(shape.dim(-1));
        int rows = cols == 0 ? 0 : Math.toIntExact(elementCount() / cols);
        Tensor c = out(shape);
        k().softmax(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset, rows, cols, cols);
        return c;
    }

    /** SiLU, {@code x * sigmoid(x)}, elementwise. */
    public Tensor silu() {
        checkLive();
        requireFloat("silu");
        Tensor c = out(shape);
        k().silu(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset, elementCount());
        return c;
    }

    /**
     * Rotary position embedding of a 1-D vector (length even, a multiple of {@code headSize}) at position
     * {@code pos}, as llama2.c's {@code run.c}.
     */
    public Tensor rope(int pos, int headSize) {
        return rope(pos, headSize, null);
    }

    /** Both forms of rope: at {@code pos}, or at the position held by {@code posAt} where that is not null. */
    private Tensor rope(int pos, int headSize, Tensor posAt) {
        checkLive();
        requireFloat("rope");
        if (posAt != null) {
            posAt.requireIndex("rope", this);
        }
        if (shape.rank() != 1 || headSize <= 0 || shape.dim(0) % headSize != 0 || headSize % 2 != 0 || pos < 0) {
            throw new IllegalArgumentException("rope needs a 1-D vector whose length is a multiple of an even "
                    + "headSize" + (posAt == null ? " and pos >= 0; got " + shape + ", headSize " + headSize + ", pos "
                    + pos : "; got " + shape + ", headSize " + headSize));
        }
        Tensor c = out(shape);
        if (posAt == null) {
            k().rope(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset,
                    Math.toIntExact(shape.dim(0)), headSize, pos);
        } else {
            k().ropeAt(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset,
                    Math.toIntExact(shape.dim(0)), headSize, posAt.block.buffer(), posAt.byteOffset);
        }
        return c;
    }

    /**
     * Rotary position embedding in place of each row of a {@code [rows, dim]} matrix ({@code dim} even, a multiple
     * of {@code headSize}), row {@code r} at position {@code startPos + r}, as llama2.c's {@code run.c} for each of
     * the prompt's tokens (the batched form of {@link #rope}). Allocates nothing.
     *
     * @throws IllegalArgumentException for a tensor that is not 2-D or a bad {@code headSize}/{@code startPos}
     */
    public void ropeRowsInPlace(int startPos, int headSize) {
        checkLive();
        requireFloat("rope");
        if (shape.rank() != 2 || headSize <= 0 || shape.dim(1) % headSize != 0 || headSize % 2 != 0
                || startPos < 0) {
            throw new IllegalArgumentException("ropeRowsInPlace needs a [rows, dim] matrix whose dim is a multiple of "
                    + "an even headSize and startPos >= 0; got " + shape + ", headSize " + headSize + ", startPos "
                    + startPos);
        }
        k().ropeRows(dtype, block.buffer(), byteOffset, block.buffer(), byteOffset, Math.toIntExact(shape.dim(0)),
                Math.toIntExact(shape.dim(1)), headSize, startPos);
    }

    /** Index of the largest element (the first on ties), over all elements in row-major order. */
    public long argmax() {
        checkLive();
        requireFloat("argmax");
        if (elementCount() == 0) {
            throw new IllegalArgumentException("argmax of an empty tensor " + shape);
        }
        return k().argmax(dtype, block.buffer(), byteOffset, elementCount());
    }

    /**
     * Rows of this 2-D table gathered by index: {@code out[i] = this[ids[i]]}, shape {@code [ids.length, dim(1)]}.
     *
     * @throws IndexOutOfBoundsException naming the id if one is outside {@code [0, dim(0))}
     */
    public Tensor embedding(int... ids) {
        checkLive();
        if (shape.rank() != 2) {
            throw new IllegalArgumentException("embedding needs a 2-D table, got " + shape);
        }
        long rowBytes = shape.dim(1) * dtype.byteSize();
        Tensor c = out(Shape.of(ids.length, shape.dim(1)));
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= shape.dim(0)) {
                c.close();
                throw new IndexOutOfBoundsException("embedding id " + ids[i] + " outside [0, " + shape.dim(0)
                        + ")");
            }
            device().copy(block.buffer(), byteOffset + ids[i] * rowBytes, c.block.buffer(),
                    c.byteOffset + i * rowBytes, rowBytes);
        }
        return c;
    }

    /**
     * A contiguous copy with axes permuted: output axis {@code i} is input axis {@code axes[i]} (NumPy's
     * {@code transpose(axes)} followed by {@code ascontiguousarray}).
     *
     * @throws IllegalArgumentException if {@code axes} is not a permutation of {@code 0..rank-1}
     */
    public Tensor permute(int... axes) {
        checkLive();
        int r = shape.rank();
        if (axes.length != r) {
            throw new IllegalArgumentException("permute of " + shape + " needs " + r + " axes, got "
                    + Arrays.toString(axes));
        }
        boolean[] seen = new boolean[r];
        long[] strides = shape.strides();
        long[] dims = new long[r];
        long[] st = new long[r];
        for (int i = 0; i < r; i++) {
            if (axes[i] < 0 || axes[i] >= r || seen[axes[i]]) {
                throw new IllegalArgumentException(Arrays.toString(axes) + " is not a permutation of the axes of "
                        + shape);
            }
            seen[axes[i]] = true;
            dims[i] = shape.dim(axes[i]);
            st[i] = strides[axes[i]];
        }
        return gather(Shape.of(dims), st);
    }

    /**
     * A contiguous tensor of {@code outShape} read from this tensor's memory with element strides {@code strides}
     * (may be 0 or repeat, for broadcasts and diagonals): {@code out[i] = this.flat[sum_d i[d] * strides[d]]}.
     *
     * @throws IllegalArgumentException  if the ranks differ
     * @throws IndexOutOfBoundsException if the strides reach outside this tensor
     */
    public Tensor gather(Shape outShape, long[] strides) {
        checkLive();
        if (strides.length != outShape.rank()) {
            throw new IllegalArgumentException("gather: " + strides.length + " strides for shape " + outShape);
        }
        long max = 0;
        for (int i = 0; i < strides.length; i++) {
            if (strides[i] < 0) {
                throw new IllegalArgumentException("gather: negative stride " + strides[i]);
            }
            if (outShape.dim(i) > 0) {
                max += (outShape.dim(i) - 1) * strides[i];
            }
        }
        if (outShape.elementCount() > 0 && max >= elementCount()) {
            throw new IndexOutOfBoundsException("gather of " + outShape + " with strides " + Arrays.toString(strides)
                    + " reaches element " + max + " of " + shape);
        }
        Tensor c = out(outShape);
        if (outShape.elementCount() > 0) {
            k().stridedCopy(dtype, block.buffer(), byteOffset, outShape.dims(), strides.clone(), c.block.buffer(),
                    c.byteOffset);
        }
        return c;
    }

    /**
     * Sums over the last {@code n} axes: shape {@code [d0..d(r-n-1)]}. {@code n == rank} gives a scalar.
     */
    public Tensor sumLastAxes(int n) {
        checkLive();
        requireFloat("sumLastAxes");
        if (n < 0 || n > shape.rank()) {
            throw new IllegalArgumentException("sumLastAxes(" + n + ") of " + shape);
        }
        long[] dims = shape.dims();
        long[] outDims = Arrays.copyOf(dims, dims.length - n);
        long inner = 1;
        for (int i = dims.length - n; i < dims.length; i++) {
            inner *= dims[i];
        }
        Shape os = Shape.of(outDims);
        Tensor c = out(os);
        k().reduceSum(dtype, block.buffer(), byteOffset, c.block.buffer(), c.byteOffset, os.elementCount(), inner);
        return c;
    }

    /**
     * One token's multi-head attention over a KV cache (llama2.c {@code run.c}, grouped-query when
     * {@code nKvHeads < nHeads}).
     *
     * @param q        query, shape {@code [nHeads * headSize]}
     * @param kCache   keys, shape {@code [seqLen, nKvHeads * headSize]} (a layer's slice of the cache)
     * @param vCache   values, same shape as {@code kCache}
     * @param pos      current position; positions {@code 0..pos} of the caches are used
     * @return the attention output, shape {@code [nHeads * headSize]}; a scratch tensor of shape
     *         {@code [nHeads, seqLen]} for the weights is allocated and closed inside
     */
    public static Tensor attention(Tensor q, Tensor kCache, Tensor vCache, int nHeads, int nKvHeads, int headSize,
                                   int pos) {
        return attention(q, kCache, vCache, nHeads, nKvHeads, headSize, pos, null);
    }

    /** Both forms of attention: at {@code pos}, or at the position held by {@code posAt} where that is not null. */
    private static Tensor attention(Tensor q, Tensor kCache, Tensor vCache, int nHeads, int nKvHeads, int headSize,
                                    int pos, Tensor posAt) {
        q.checkBinary(kCache, "attention");
        q.checkBinary(vCache, "attention");
        q.requireFloat("attention");
        if (posAt != null) {
            posAt.requireIndex("attention", q);
        }
        int kvDim = nKvHeads * headSize;
        if (nHeads <= 0 || nKvHeads <= 0 || nHeads % nKvHeads != 0 || q.shape.rank() != 1
                || q.shape.dim(0) != (long) nHeads * headSize || kCache.shape.rank() != 2
                || kCache.shape.dim(1) != kvDim || !kCache.shape.equals(vCache.shape)
                || posAt == null && (pos < 0 || pos >= kCache.shape.dim(0))) {
            throw new IllegalArgumentException("attention: q " + q.shape + ", kCache " + kCache.shape + ", vCache "
                    + vCache.shape + " do not fit nHeads " + nHeads + ", nKvHeads " + nKvHeads + ", headSize "
                    + headSize + (posAt == null ? ", pos " + pos : ""));
        }
        int seqLen = Math.toIntExact(kCache.shape.dim(0));
        TensorContext ctx = q.ctx;
        Tensor out = ctx.empty(q.shape, q.dtype);
        try (Tensor att = ctx.empty(Shape.of(nHeads, seqLen), q.dtype)) {
            if (posAt == null) {
                q.k().attention(q.dtype, q.block.buffer(), q.byteOffset, kCache.block.buffer(), kCache.byteOffset,
                        vCache.block.buffer(), vCache.byteOffset, att.block.buffer(), att.byteOffset, seqLen,
                        out.block.buffer(), out.byteOffset, nHeads, nKvHeads, headSize, pos);
            } else {
                q.k().attentionAt(q.dtype, q.block.buffer(), q.byteOffset, kCache.block.buffer(), kCache.byteOffset,
                        vCache.block.buffer(), vCache.byteOffset, att.block.buffer(), att.byteOffset, seqLen,
                        out.block.buffer(), out.byteOffset, nHeads, nKvHeads, headSize, posAt.block.buffer(),
                        posAt.byteOffset);
            }
        } catch (RuntimeException | Error e) {
            out.close(); // the caller never sees it: give its memory back
            throw e;
        }
        return out;
    }

    // ------------------------------------------------------------------ tensor-indexed forms (captured steps)

    /**
     * {@link #rope(int, int)} at the position held by {@code pos}, a one-element {@link DType#I32} tensor read when the
     * kernel runs ({@link org.tensorbuffer.device.Kernels#ropeAt}), so that a step captured with
     * {@link org.tensorbuffer.device.Device#capture} replays at whatever position is written into it.
     *
     * @throws IllegalArgumentException as {@link #rope(int, int)}, or if {@code pos} is not a one-element I32 tensor
     */
    public Tensor ropeAt(Tensor pos, int headSize) {
        return rope(0, headSize, pos);
    }

    /**
     * {@link #attention(Tensor, Tensor, Tensor, int, int, int, int)} at the position held by {@code pos}, a
     * one-element {@link DType#I32} tensor read when the kernel runs
     * ({@link org.tensorbuffer.device.Kernels#attentionAt}); positions {@code 0..seqLen-1} of the caches.
     *
     * @throws IllegalArgumentException naming the shapes if they do not fit, or if {@code pos} is not a one-element
     *                                  I32 tensor
     */
    public static Tensor attentionAt(Tensor q, Tensor kCache, Tensor vCache, int nHeads, int nKvHeads, int headSize,
                                     Tensor pos) {
        return attention(q, kCache, vCache, nHeads, nKvHeads, headSize, 0, pos);
    }

    /**
     * Row {@code index} of this table (rank >= 1) as a new tensor of the remaining axes: PyTorch's
     * {@code index_select(0, index)} with one index held by {@code index}, a one-element {@link DType#I32} tensor read
     * when the kernel runs ({@link org.tensorbuffer.device.Kernels#gatherRow}); an embedding lookup in a captured step.
     *
     * @throws IllegalArgumentException if this is a scalar or {@code index} is not a one-element I32 tensor
     * @throws IndexOutOfBoundsException where the backend reads the index on the host and it is outside the rows
     */
    public Tensor gatherRow(Tensor index) {
        checkLive();
        index.requireIndex("gatherRow", this);
        if (shape.rank() == 0) {
            throw new IllegalArgumentException("gatherRow of a scalar");
        }
        long[] dims = shape.dims();
        Tensor c = out(Shape.of(Arrays.copyOfRange(dims, 1, dims.length)));
        try {
            k().gatherRow(dtype, block.buffer(), byteOffset, dims[0], c.elementCount(), index.block.buffer(),
                    index.byteOffset, c.block.buffer(), c.byteOffset);
        } catch (RuntimeException | Error e) {
            c.close();
            throw e;
        }
        return c;
    }

    /**
     * Overwrites row {@code index} of this table (rank >= 1) with {@code src} (same dtype, as many elements as a row):
     * PyTorch's {@code index_copy_(0, index, src)} with one index held by {@code index}, a one-element
     * {@link DType#I32} tensor read when the kernel runs ({@link org.tensorbuffer.device.Kernels#scatterRow}); a
     * KV-cache row write in a captured step.
     *
     * @throws IllegalArgumentException if the shapes or types do not fit or {@code index} is not a one-element I32
     *                                  tensor
     * @throws IndexOutOfBoundsException where the backend reads the index on the host and it is outside the rows
     */
    public void scatterRow(Tensor index, Tensor src) {
        checkLive();
        src.checkLive();
        index.requireIndex("scatterRow", this);
        if (shape.rank() == 0 || src.dtype != dtype || src.elementCount() * shape.dim(0) != elementCount()) {
            throw new IllegalArgumentException("scatterRow of " + src.shape + " " + src.dtype + " into a row of "
                    + shape + " " + dtype);
        }
        sameDevice(src, "scatterRow");
        k().scatterRow(dtype, src.block.buffer(), src.byteOffset, block.buffer(), byteOffset, shape.dim(0),
                src.elementCount(), index.block.buffer(), index.byteOffset);
    }

    /**
     * {@link #argmax()} written into {@code out}, a one-element {@link DType#I32} tensor, on the device
     * ({@link org.tensorbuffer.device.Kernels#argmaxInto}): the greedy pick inside a captured step. Does not wait.
     *
     * @throws IllegalArgumentException if this is empty or not floating point, or {@code out} is not a one-element I32
     *                                  tensor
     */
    public void argmaxInto(Tensor out) {
        checkLive();
        requireFloat("argmax");
        out.requireIndex("argmaxInto", this);
        if (elementCount() == 0) {
            throw new IllegalArgumentException("argmax of an empty tensor " + shape);
        }
        k().argmaxInto(dtype, block.buffer(), byteOffset, elementCount(), out.block.buffer(), out.byteOffset);
    }

    /** Checks that this is a live one-element I32 tensor on {@code user}'s device (an index operand of {@code op}). */
    private void requireIndex(String op, Tensor user) {
        checkLive();
        if (dtype != DType.I32 || elementCount() != 1) {
            throw new IllegalArgumentException(op + ": the index must be a one-element int32 tensor, got " + shape + " "
                    + dtype);
        }
        user.sameDevice(this, op);
    }

    /**
     * Query rows per head whose attention weights {@link #causalAttention} gives the backend room for at once (its
     * scratch is always {@code [64, nHeads * seqLen]}, whatever the number of query rows).
     */
    public static final int CAUSAL_ATTENTION_BLOCK_ROWS = 64;

    /**
     * Causal attention of the prompt's {@code rows} tokens at positions {@code startPos..startPos+rows-1} over a KV
     * cache that already holds their keys and values (llama2.c {@code run.c}'s attention for each of them, computed
     * in one call): row {@code r} attends to positions {@code 0..startPos+r}.
     *
     * @param q        queries, shape {@code [rows, nHeads * headSize]}
     * @param kCache   keys, shape {@code [seqLen, nKvHeads * headSize]}
     * @param vCache   values, same shape as {@code kCache}
     * @param startPos position of the first query row; {@code startPos + rows <= seqLen}
     * @return the attention output, shape {@code [rows, nHeads * headSize]}; a scratch tensor of the fixed shape
     *         {@code [}{@value #CAUSAL_ATTENTION_BLOCK_ROWS}{@code , nHeads * seqLen]} is allocated and closed
     *         inside: each head's {@code 64 * seqLen} elements of it hold the attention weights of a block of query
     *         rows, so that a backend can compute them as GEMMs
     *         ({@link org.tensorbuffer.device.Kernels#causalAttention}); the shape does not depend on {@code rows},
     *         so a shape-keyed pool reserves it once for every prompt length rather than once per length bucket
     *         (for prompts of at most 64 tokens starting at position 0 every row still fits one block, as with a
     *         {@code [rows, nHeads * seqLen]} scratch)
     * @throws IllegalArgumentException naming the shapes if they do not fit
     */
    public static Tensor causalAttention(Tensor q, Tensor kCache, Tensor vCache, int nHeads, int nKvHeads,
                                         int headSize, int startPos) {
        q.checkBinary(kCache, "causalAttention");
        q.checkBinary(vCache, "causalAttention");
        q.requireFloat("causalAttention");
        int kvDim = nKvHeads * headSize;
        if (nHeads <= 0 || nKvHeads <= 0 || nHeads % nKvHeads != 0 || q.shape.rank() != 2
                || q.shape.dim(1) != (long) nHeads * headSize || kCache.shape.rank() != 2
                || kCache.shape.dim(1) != kvDim || !kCache.shape.equals(vCache.shape) || startPos < 0
                || startPos + q.shape.dim(0) > kCache.shape.dim(0)) {
            throw new IllegalArgumentException("causalAttention: q " + q.shape + ", kCache " + kCache.shape
                    + ", vCache " + vCache.shape + " do not fit nHeads " + nHeads + ", nKvHeads " + nKvHeads
                    + ", headSize " + headSize + ", startPos " + startPos);
        }
        int seqLen = Math.toIntExact(kCache.shape.dim(0));
        TensorContext ctx = q.ctx;
        int rows = Math.toIntExact(q.shape.dim(0));
        int blockRows = CAUSAL_ATTENTION_BLOCK_ROWS; // fixed: one scratch shape for every prompt length
        Tensor out = ctx.empty(q.shape, q.dtype);
        try (Tensor att = ctx.empty(Shape.of(blockRows, (long) nHeads * seqLen), q.dtype)) {
            q.k().causalAttention(q.dtype, q.block.buffer(), q.byteOffset, kCache.block.buffer(), kCache.byteOffset,
                    vCache.block.buffer(), vCache.byteOffset, att.block.buffer(), att.byteOffset,
                    Math.multiplyExact(blockRows, seqLen),
                    out.block.buffer(), out.byteOffset, rows, nHeads, nKvHeads, headSize,
                    startPos);
        } catch (RuntimeException | Error e) {
            out.close(); // the caller never sees it: give its memory back
            throw e;
        }
        return out;
    }

    // ----------------------------------------------------------------------------------------------- checks

    private void checkBinary(Tensor b, String op) {
        checkLive();
        b.checkLive();
        if (b.dtype != dtype) {
            throw new IllegalArgumentException(op + " dtype mismatch: " + dtype + " and " + b.dtype);
        }
        sameDevice(b, op);
    }

    private void sameDevice(Tensor b, String op) {
        if (b.device() != device()) {
            throw new IllegalArgumentException(op + " of tensors on different devices: " + device().id() + " and "
                    + b.device().id());
        }
    }

    private void requireFloat(String op) {
        if (dtype != DType.F32 && dtype != DType.F64) {
            throw new UnsupportedOperationException(op + " is not supported for " + dtype + " (F32/F64 only)");
        }
    }

    private void requireType(DType t, String op) {
        if (dtype != t) {
            throw new IllegalArgumentException(op + " needs " + t + ", tensor is " + dtype);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + " " + dtype + " on " + ctx.device().id() + (refCnt <= 0 ? " (closed)" : "");
    }
}

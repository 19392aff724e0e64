package org.tensorbuffer.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * A lease on device memory handed out by a {@link BufferPool}, a {@link TensorBuffer}, an arena or the raw device:
 * the unit that tensors are backed by.
 *
 * <p>Blocks are recycled objects: a pool hands the same {@code Block} out again after it is released, so the hit path
 * allocates nothing on the Java heap. Each block carries
 * <ul>
 *   <li>a reference count: 1 when handed out, {@link #retain()} adds one (tensor views share a block),
 *       {@link #release()} drops one and the last release gives the block back to its {@link BlockOwner};</li>
 *   <li>a generation, advanced at every recycle: a handle that remembers the generation it was given can tell that
 *       the block has since been recycled ({@link #checkGeneration(int, Object)}).</li>
 * </ul>
 *
 * <p>{@link #retain()} and {@link #release()} are thread-safe (atomic). {@link #capacity()} is the size class in bytes,
 * which may exceed the bytes requested.
 */
public final class Block implements AutoCloseable {
    private static final VarHandle REF_CNT;

    static {
        try {
            REF_CNT = MethodHandles.lookup().findVarHandle(Block.class, "refCnt", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    final DeviceBuffer buffer;
    final long capacity;
    final int sizeClass;
    final BlockOwner owner;
    private volatile int refCnt;
    /** Advanced at each recycle; plain field, read racily by handles (best-effort detection, as Netty's). */
    int generation;
    /** Owner-private data (the TensorBuffer slot, ...). */
    Object ownerData;
    /** Intrusive links of a pool's per-class free list and global LRU list (guarded by the pool's lock). */
    Block prev, next, lruPrev, lruNext;
    /** Set by {@link org.tensorbuffer.memory.BufferPool}/{@link TensorBuffer} when the block must be freed, not kept. */
    boolean retired;
    /**
     * Frees the memory of a block still handed out when its pool was closed: run on its release, or by a
     * {@link java.lang.ref.Cleaner} once the block is unreachable (guarded by the pool's lock).
     */
    java.lang.ref.Cleaner.Cleanable orphan;

    /**
     * @param buffer    the memory
     * @param capacity  usable bytes (the size class), {@code <= buffer.byteSize()}
     * @param sizeClass size-class index, or -1
     * @param owner     who takes the block back on its last release
     */
    Block(DeviceBuffer buffer, long capacity, int sizeClass, BlockOwner owner) {
        this.buffer = buffer;
        this.capacity = capacity;
        this.sizeClass = sizeClass;
        this.owner = owner;
    }

    /** The device memory. Valid while the caller holds a reference. */
    public DeviceBuffer buffer() {
        return buffer;
    }

    /** Usable bytes: the size class (or exact size) the block was allocated with. */
    public long capacity() {
        return capacity;
    }

    /** Size-class index in {@code SizeClasses}, or -1 if the block is not from a size class. */
    public int sizeClass() {
        return sizeClass;
    }

    /** Who takes the block back. */
    public BlockOwner owner() {
        return owner;
    }

    /** Current generation; advanced at every recycle. */
    public int generation() {
        return generation;
    }

    /** Current reference count (0 while free). */
    public int refCnt() {
        return refCnt;
    }

    /**
     * Marks a free block as handed out with one reference. Called by owners only (a {@link BufferPool}, a
     * {@link TensorBuffer}; owners in other packages through {@link BlockOwner#acquire}), never by a block's user.
     */
    void acquire() {
        REF_CNT.setRelease(this, 1);
    }

    /**
     * Marks a free block as handed out with one reference, atomically: fails if the block is in use or has been
     * freed ({@link #revoke()}), so two racing owners can never both hand it out. Called by owners only (others through
     * {@link BlockOwner#tryAcquire}).
     *
     * @return whether the block was free and is now handed out
     */
    boolean tryAcquire() {
        return REF_CNT.compareAndSet(this, 0, 1);
    }

    /**
     * Marks a free block as dead (reference count -1) before its memory is freed, atomically: fails if the block is
     * in use or already dead. A stale cache entry can then never be handed out again ({@link #tryAcquire()} fails).
     */
    boolean revoke() {
        return REF_CNT.compareAndSet(this, 0, -1);
    }

    /**
     * Drops the reference of a handle that was given the block at generation {@code expected}, unless the block has
     * been recycled since (then nothing is released: the reference is not the handle's any more). Used by safety
     * nets (the leak detector) that must never release a block now owned by someone else.
     *
     * @return whether this dropped the last reference (the block went back to its owner)
     */
    public boolean releaseIfGeneration(int expected) {
        for (;;) {
            int c = refCnt; // volatile read first: the recycling thread's writes before the new owner's acquire show
            if (c <= 0 || generation != expected) {
                return false;
            }
            if (REF_CNT.compareAndSet(this, c, c - 1)) {
                if (c == 1) {
                    generation++;
                    owner.recycle(this);
                    return true;
                }
                return false;
            }
        }
    }

    /**
     * Adds a reference.
     *
     * @throws IllegalReferenceCountException if the block is free (count 0)
     */
    public Block retain() {
        for (;;) {
            int c = refCnt;
            if (c <= 0) {
                throw new IllegalReferenceCountException("retain of " + this + " with reference count " + c);
            }
            if (REF_CNT.compareAndSet(this, c, c + 1)) {
                return this;
            }
        }
    }

    /**
     * Drops a reference; the last one advances the generation and gives the block back to its owner.
     *
     * @return whether this was the last reference
     * @throws IllegalReferenceCountException if the block is already free (released past zero)
     */
    public boolean release() {
        for (;;) {
            int c = refCnt;
            if (c <= 0) {
                throw new IllegalReferenceCountException("release of " + this + " with reference count " + c
                        + " (released more often than retained)");
            }
            if (REF_CNT.compareAndSet(this, c, c - 1)) {
                if (c == 1) {
                    generation++;
                    owner.recycle(this);
                    return true;
                }
                return false;
            }
        }
    }

    /** Same as {@link #release()}: gives the caller's reference back. */
    @Override
    public void close() {
        release();
    }

    /**
     * Checks that the block has not been recycled since a handle was given generation {@code expected}.
     *
     * @param handle named in the exception
     * @throws UseAfterRecycleException if the block was recycled in between
     */
    public void checkGeneration(int expected, Object handle) {
        if (generation != expected) {
            throw new UseAfterRecycleException(handle + " used after its buffer was recycled (generation " + expected
                    + ", buffer now at " + generation + ", owner " + owner.describe() + ")");
        }
    }

    @Override
    public String toString() {
        return "Block[" + capacity + " B, gen " + generation + ", " + owner.describe() + "]";
    }
}

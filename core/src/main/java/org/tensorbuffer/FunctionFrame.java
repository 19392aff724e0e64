package org.tensorbuffer;

import java.util.ArrayList;
import java.util.List;
import org.tensorbuffer.memory.Block;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * A function's numbered slot buffers, reused from call to call (design note 002, {@code tl_mem_function_enter},
 * {@code tl_mem_get_buffer}, {@code tl_mem_function_exit}): the code asks for "slot {@code i} with this shape" instead
 * of allocating, and gets the tensor the slot already holds when it fits.
 *
 * <ul>
 *   <li>Same shape and dtype as the slot's tensor: that same tensor (no allocation at all).</li>
 *   <li>Another shape that fits the slot's block: a new tensor over the same block (no device memory).</li>
 *   <li>Does not fit: a new block; the previous occupant is not freed at once but put on a deferred-free list, so a
 *       tensor handed out earlier in the same call stays valid; the list is released at {@link #endCall()}.</li>
 * </ul>
 * The contents of a slot tensor are whatever the previous occupant left (uninitialised). Slot tensors belong to the
 * frame, not to any {@link MemoryScope}, and must not be closed by the caller; {@link #close()} releases them all.
 *
 * <pre>{@code
 * try (FunctionFrame frame = new FunctionFrame(ctx, 3)) {
 *     for (int step = 0; step < steps; step++) {
 *         Tensor h = frame.slot(0, Shape.of(dim), DType.F32);       // reused every step
 *         ...
 *         frame.endCall();                                          // frees the deferred occupants
 *     }
 * }
 * }</pre>
 *
 * <p>Not thread-safe: a frame belongs to one call stack.
 */
public final class FunctionFrame implements AutoCloseable {
    private final TensorContext ctx;
    private final Tensor[] slots;
    private final List<Tensor> deferred = new ArrayList<>();
    private long calls;
    private long sameTensor;
    private long blockReuses;
    private long allocations;
    private boolean closed;

    /**
     * A frame of {@code numSlots} empty slots allocating from {@code ctx}.
     *
     * @throws IllegalArgumentException if {@code numSlots} is negative
     */
    public FunctionFrame(TensorContext ctx, int numSlots) {
        if (numSlots < 0) {
            throw new IllegalArgumentException("numSlots " + numSlots + " is negative");
        }
        this.ctx = ctx;
        this.slots = new Tensor[numSlots];
    }

    /**
     * The tensor of slot {@code id} with {@code shape} and {@code dtype} (uninitialised; see the class comment for
     * when it is reused).
     *
     * @throws IndexOutOfBoundsException if {@code id} is not in {@code [0, numSlots)}
     * @throws IllegalStateException     if the frame is closed
     */
    public Tensor slot(int id, Shape shape, DType dtype) {
        if (closed) {
            throw new IllegalStateException("FunctionFrame is closed");
        }
        if (id < 0 || id >= slots.length) {
            throw new IndexOutOfBoundsException("slot " + id + " of a frame with " + slots.length + " slots");
        }
        Tensor cur = slots[id];
        Tensor t;
        if (cur != null) {
            if (cur.shape().equals(shape) && cur.dtype() == dtype) {
                sameTensor++;
                return cur;
            }
            Block b = cur.block();
            if (b.capacity() >= shape.byteSize(dtype)) {
                b.retain();
                t = ctx.wrap(b, shape, dtype);
                blockReuses++;
            } else {
                t = ctx.empty(shape, dtype);
                allocations++;
            }
            deferred.add(cur);
        } else {
            t = ctx.empty(shape, dtype);
            allocations++;
        }
        MemoryScope.detach(t);
        slots[id] = t;
        return t;
    }

    /**
     * Ends one call: releases the previous occupants of overwritten slots (the deferred frees). The slots keep their
     * current tensors for the next call.
     */
    public void endCall() {
        calls++;
        for (Tensor t : deferred) {
            t.release();
        }
        deferred.clear();
    }

    /** Number of slots. */
    public int slotCount() {
        return slots.length;
    }

    /** Completed {@link #endCall()}s. */
    public long calls() {
        return calls;
    }

    /** Slot requests answered with the slot's existing tensor. */
    public long sameTensorHits() {
        return sameTensor;
    }

    /** Slot requests answered with a new tensor over the slot's existing block. */
    public long blockReuses() {
        return blockReuses;
    }

    /** Slot requests that allocated a new block. */
    public long allocations() {
        return allocations;
    }

    /** Previous occupants waiting for {@link #endCall()}. */
    public int deferredCount() {
        return deferred.size();
    }

    /** Releases the deferred occupants and every slot's tensor. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        endCall();
        closed = true;
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] != null) {
                slots[i].release();
                slots[i] = null;
            }
        }
    }
}

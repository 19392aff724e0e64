package org.tensorbuffer.memory;

import org.openjdk.jcstress.infra.results.IIII_Result;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.types.Shape;

/**
 * The state the TensorBuffer jcstress tests share: a {@link CountingDevice}, a pool over it and a TensorBuffer with two
 * {@code [8, 16]} F32 blocks reserved. One instance per jcstress state object; not thread-safe beyond what the
 * TensorBuffer itself is.
 */
final class ReservedTensorBuffer {
    static final Shape SHAPE = Shape.of(8, 16);
    final CountingDevice device = new CountingDevice();
    final BufferPool pool = BufferPool.builder(device).name("jcstress").build();
    final TensorBuffer tb = new TensorBuffer(pool, "jcstress");

    ReservedTensorBuffer() {
        tb.reserve(SHAPE, DType.F32, 2);
    }

    /**
     * Takes a block and releases it, twice (the second take is a magazine hit unless a clear or close came first):
     * {@code r.r1} = the takes served by the TensorBuffer, {@code r.r2} = 1 if every block was live on the device
     * while held.
     */
    void takeReleaseTwice(IIII_Result r) {
        int hits = 0;
        boolean liveWhileHeld = true;
        for (int i = 0; i < 2; i++) {
            Block b = tb.take(SHAPE, DType.F32);
            hits += b.owner() == tb ? 1 : 0;
            liveWhileHeld &= device.isLive(b.buffer().address());
            b.release();
        }
        r.r1 = hits;
        r.r2 = liveWhileHeld ? 1 : 0;
    }

    /** The TensorBuffer's reserved bytes, capped at {@code Integer.MAX_VALUE}. */
    int reservedBytes() {
        return (int) Math.min(Integer.MAX_VALUE, tb.stats().reservedBytes());
    }

    /** Closes the TensorBuffer, then the pool, and returns the device buffers still live (0 when nothing leaked). */
    int closeAndCountLive() {
        tb.close();
        pool.close();
        return device.liveBuffers();
    }
}

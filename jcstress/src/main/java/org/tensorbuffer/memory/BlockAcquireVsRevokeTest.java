package org.tensorbuffer.memory;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZI_Result;
import org.tensorbuffer.device.DeviceBuffer;

/**
 * The hand-out vs free protocol of the pools: a thread takes a free block from its cache ({@link Block#tryAcquire()})
 * while a clear or close revokes it ({@link Block#revoke()}) to free it. Exactly one wins: a block is never both handed
 * out and freed, and never neither.
 */
@JCStressTest
@Description("Block.tryAcquire (a take from a thread cache or magazine) vs Block.revoke (clear/close freeing it)")
@Outcome(id = "true, false, 1", expect = ACCEPTABLE, desc = "handed out; freed by its release")
@Outcome(id = "false, true, -1", expect = ACCEPTABLE, desc = "revoked and freed; the take misses")
@Outcome(expect = FORBIDDEN, desc = "handed out and freed, or neither")
@State
public class BlockAcquireVsRevokeTest {
    /** One fake buffer for every state: the blocks are never freed to a device. */
    private static final DeviceBuffer BUFFER = new DeviceBuffer(new CountingDevice(), 1L << 40, 64, null);
    private static final BlockOwner OWNER = new BlockOwner() {
        @Override
        protected void recycle(Block b) {
        }

        @Override
        public String describe() {
            return "owner";
        }
    };
    private final Block block = new Block(BUFFER, 64, -1, OWNER);

    @Actor
    public void take(ZZI_Result r) {
        r.r1 = block.tryAcquire();
    }

    @Actor
    public void revoke(ZZI_Result r) {
        r.r2 = block.revoke();
    }

    @Arbiter
    public void arbiter(ZZI_Result r) {
        r.r3 = block.refCnt();
    }
}

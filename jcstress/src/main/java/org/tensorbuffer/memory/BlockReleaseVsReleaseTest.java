package org.tensorbuffer.memory;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.Description;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.ZZI_Result;
import org.tensorbuffer.device.DeviceBuffer;

/** Two threads drop the two references of one block: exactly one sees the last release and the block is recycled once. */
@JCStressTest
@Description("Block.release vs Block.release on a block with two references")
@Outcome(id = "true, false, 1", expect = ACCEPTABLE, desc = "actor 1 had the last reference")
@Outcome(id = "false, true, 1", expect = ACCEPTABLE, desc = "actor 2 had the last reference")
@Outcome(expect = FORBIDDEN, desc = "both or neither saw the last release, or the block was recycled twice or never")
@State
public class BlockReleaseVsReleaseTest {
    private final AtomicInteger recycled = new AtomicInteger();
    private final Block block;

    public BlockReleaseVsReleaseTest() {
        BlockOwner owner = new BlockOwner() {
            @Override
            protected void recycle(Block b) {
                recycled.incrementAndGet();
            }

            @Override
            public String describe() {
                return "counting owner";
            }
        };
        block = new Block(BUFFER, 64, -1, owner);
        block.acquire();
        block.retain();
    }

    /** One fake buffer for every state: the blocks are never freed to a device. */
    private static final DeviceBuffer BUFFER = new DeviceBuffer(new CountingDevice(), 1L << 40, 64, null);

    @Actor
    public void actor1(ZZI_Result r) {
        r.r1 = block.release();
    }

    @Actor
    public void actor2(ZZI_Result r) {
        r.r2 = block.release();
    }

    @Arbiter
    public void arbiter(ZZI_Result r) {
        r.r3 = recycled.get();
    }
}

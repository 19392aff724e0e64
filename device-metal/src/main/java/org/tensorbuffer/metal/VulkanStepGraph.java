package org.tensorbuffer.metal;

import org.tensorbuffer.device.StepGraph;

/**
 * A step captured by {@link VulkanDevice#capture}: one reusable command buffer and the buffers its commands use,
 * pinned until {@link #close()}. {@link #replay()} is one {@code vkQueueSubmit} (after the commands recorded before
 * it), with no recording, descriptor set or Java op of the step on the calling thread. Thread-safe (under the device's
 * lock).
 */
final class VulkanStepGraph implements StepGraph {
    private final VulkanDevice dev;
    private final CommandBatcher.Captured captured;
    private boolean closed;

    VulkanStepGraph(VulkanDevice dev, CommandBatcher.Captured captured) {
        this.dev = dev;
        this.captured = captured;
    }

    @Override
    public void replay() {
        synchronized (dev) {
            if (closed) {
                throw new IllegalStateException("the captured step is closed");
            }
            dev.ensureOpen();
            for (VulkanBuffer vb : captured.pins()) {
                if (vb.freed) {
                    throw new IllegalStateException("a buffer the captured step uses was freed (" + vb + ")");
                }
            }
            dev.batcher().replay(captured);
        }
    }

    @Override
    public int commands() {
        return captured.commands();
    }

    @Override
    public void close() {
        synchronized (dev) {
            if (closed) {
                return;
            }
            closed = true;
            if (dev.isClosed()) {
                return; // the device's close destroyed the command pool, fences and buffers
            }
            dev.batcher().release(captured.batch());
            dev.unpin(captured.pins());
        }
    }

    @Override
    public String toString() {
        return "VulkanStepGraph[" + captured.commands() + " commands, " + captured.pins().size() + " buffers]";
    }
}

package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;

import java.nio.ByteBuffer;
import java.nio.LongBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Consumer;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.vulkan.VkBufferCopy;
import org.lwjgl.vulkan.VkCommandBuffer;
import org.lwjgl.vulkan.VkCommandBufferAllocateInfo;
import org.lwjgl.vulkan.VkCommandBufferBeginInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkFenceCreateInfo;
import org.lwjgl.vulkan.VkMemoryBarrier;
import org.lwjgl.vulkan.VkQueue;
import org.lwjgl.vulkan.VkSubmitInfo;

/**
 * Records kernels and copies into command buffers and submits them lazily, so that a decode step is a handful of
 * submits rather than one per op.
 *
 * <p>A batch is a command buffer and its fence; the dispatches' descriptor sets come from a {@link DescriptorCache}
 * shared by all batches. Commands are recorded into the
 * current batch with a global memory barrier after each (so every command sees the writes of the ones before it);
 * the batch is submitted when a caller needs results ({@link #waitFor}, {@link #waitIdle}), when a buffer it uses is
 * freed, or when it holds {@link #MAX_COMMANDS} commands. Up to {@link #MAX_IN_FLIGHT} submitted batches run while
 * the next is recorded. Each batch has a serial number; a buffer remembers the serial of the last batch that used it,
 * and a freed buffer still in use is destroyed once that batch has completed (stream-ordered free).
 *
 * <p><b>Capture.</b> Between {@link #beginCapture()} and {@link #endCapture()} commands go into a reusable command
 * buffer (recorded without {@code ONE_TIME_SUBMIT}, never submitted by the recording) and every buffer they use is
 * pinned; {@link #replay} submits it again as one batch with a new serial. Submitting or waiting while capturing
 * throws {@link IllegalStateException}.
 *
 * <p>Not thread-safe: the device calls it under its lock.
 */
final class CommandBatcher {
    /** Commands (dispatches and copies) recorded into one batch before it is submitted. */
    static final int MAX_COMMANDS = 256;
    /** Submitted batches that may be pending before recording waits for the oldest. */
    static final int MAX_IN_FLIGHT = 3;
    /** Storage-buffer bindings of every compute pipeline (set 0, bindings 0..5: operands and an index). */
    static final int BINDINGS = 6;

    /** A bound range of a buffer: {@code offset} must be a multiple of minStorageBufferOffsetAlignment. */
    record Binding(VulkanBuffer buffer, long offset, long range) {
    }

    /** A command buffer and its fence: a one-time batch, or (reusable) a captured step. */
    static final class Batch {
        VkCommandBuffer cmd;
        /** A captured step's command buffer: recorded once, submitted by {@link #replay}, never recycled. */
        boolean reusable;
        /** (reusable) submitted and not yet known to have completed. */
        boolean pending;
        long fence;
        long serial;
        int commands;
        /** The pipeline bound last in this command buffer (0: none yet). */
        long pipeline;
    }

    /** A finished capture: its command buffer, the buffers it uses (pinned) and its command count. */
    record Captured(Batch batch, List<VulkanBuffer> pins, int commands) {
    }

    private record Deferred(VulkanBuffer buffer, long serial) {
    }

    private final VkDevice device;
    private final VkQueue queue;
    private final long commandPool;
    private final long pipelineLayout;
    private final Consumer<VulkanBuffer> destroyer;
    private final DescriptorCache descriptors;
    private Thread preparer;
    private final ArrayDeque<Batch> inFlight = new ArrayDeque<>();
    private final ArrayDeque<Batch> idle = new ArrayDeque<>();
    private final List<Batch> all = new ArrayList<>();
    private final List<Deferred> deferred = new ArrayList<>();
    private Batch current;
    /** The capture under way (also {@link #current}), or null. */
    private Batch capturing;
    private java.util.IdentityHashMap<VulkanBuffer, Boolean> pinning;
    private long serialCounter;
    private long completedSerial;
    private long submits;
    private long commandsRecorded;

    CommandBatcher(VkDevice device, VkQueue queue, long commandPool, long setLayout, long pipelineLayout,
                   Consumer<VulkanBuffer> destroyer) {
        this.device = device;
        this.queue = queue;
        this.commandPool = commandPool;
        this.pipelineLayout = pipelineLayout;
        this.destroyer = destroyer;
        this.descriptors = new DescriptorCache(device, setLayout);
    }

    /** Submits so far. */
    long submits() {
        return submits;
    }

    /** Commands recorded so far. */
    long commands() {
        return commandsRecorded;
    }

    /** Serial of the newest batch known to have completed. */
    long completedSerial() {
        return completedSerial;
    }

    /**
     * Records a compute dispatch; the bindings beyond {@code bindings.length} repeat binding 0. Its descriptor set
     * comes from the {@link DescriptorCache} (created on the first dispatch with these bindings). While the calling
     * thread is {@linkplain #preparing() preparing}, only the descriptor set is made and nothing is recorded.
     */
    void dispatch(long pipeline, Binding[] bindings, ByteBuffer push, int gx, int gy, int gz) {
        long set = descriptors.set(bindings);
        if (preparing()) {
            return;
        }
        Batch b = recording();
        for (Binding x : bindings) {
            use(b, x.buffer());
        }
        try (MemoryStack st = stackPush()) {
            if (b.pipeline != pipeline) {
                vkCmdBindPipeline(b.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
                b.pipeline = pipeline;
            }
            vkCmdBindDescriptorSets(b.cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipelineLayout, 0, st.longs(set), null);
            vkCmdPushConstants(b.cmd, pipelineLayout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push);
            vkCmdDispatch(b.cmd, gx, gy, gz);
            barrier(b.cmd, st, false);
        }
        recorded(b);
    }

    /**
     * Whether the calling thread is running a step ahead ({@link VulkanDevice#prepare}): its dispatches only make
     * descriptor sets, its copies do nothing.
     */
    boolean preparing() {
        return preparer == Thread.currentThread();
    }

    /** The preparing thread, or {@code null}. */
    Thread preparer() {
        return preparer;
    }

    /** Makes {@code thread} (or nobody, for {@code null}) the preparing thread. */
    void preparer(Thread thread) {
        preparer = thread;
    }

    /** The descriptor sets of the dispatches. */
    DescriptorCache descriptors() {
        return descriptors;
    }

    /** Records a buffer-to-buffer copy of {@code bytes} bytes. */
    void copy(VulkanBuffer src, long srcOffset, VulkanBuffer dst, long dstOffset, long bytes) {
        if (preparing()) {
            return;
        }
        Batch b = recording();
        use(b, src);
        use(b, dst);
        try (MemoryStack st = stackPush()) {
            VkBufferCopy.Buffer region = VkBufferCopy.calloc(1, st).srcOffset(srcOffset).dstOffset(dstOffset)
                    .size(bytes);
            vkCmdCopyBuffer(b.cmd, src.buffer, dst.buffer, region);
            barrier(b.cmd, st, false);
        }
        recorded(b);
    }

    /** Marks {@code buffer} as used by the batch being recorded (for staging buffers freed right after). */
    void touch(VulkanBuffer buffer) {
        use(recording(), buffer);
    }

    /** Marks {@code vb} as used by {@code b}: its serial, or pinned by the capture {@code b} is. */
    private void use(Batch b, VulkanBuffer vb) {
        if (b.reusable) {
            if (pinning.put(vb, Boolean.TRUE) == null) {
                vb.pins++;
            }
        } else {
            vb.lastUse = b.serial;
        }
    }

    private void recorded(Batch b) {
        b.commands++;
        commandsRecorded++;
        if (b.commands >= MAX_COMMANDS && !b.reusable) {
            submit();
        }
    }

    /** Whether a capture is under way. */
    boolean capturing() {
        return capturing != null;
    }

    private void notCapturing(String what) {
        if (capturing != null) {
            throw new IllegalStateException(what + " inside a capture: the step would wait for the device or the "
                    + "host, which a replay cannot do");
        }
    }

    /**
     * Starts a capture: submits what is recorded, then records every command into a new reusable command buffer
     * (each buffer it uses pinned) until {@link #endCapture()} or {@link #abortCapture()}.
     */
    void beginCapture() {
        notCapturing("capture");
        submit();
        Batch b = create();
        b.reusable = true;
        try (MemoryStack st = stackPush()) {
            VulkanDevice.check(vkBeginCommandBuffer(b.cmd, VkCommandBufferBeginInfo.calloc(st).sType$Default()),
                    "vkBeginCommandBuffer");
        }
        b.serial = 0;
        b.commands = 0;
        b.pipeline = 0;
        pinning = new java.util.IdentityHashMap<>();
        capturing = b;
        current = b;
    }

    /** Ends the capture: the command buffer is ready for {@link #replay}, its buffers stay pinned. */
    Captured endCapture() {
        Batch b = capturing;
        try (MemoryStack st = stackPush()) {
            barrier(b.cmd, st, true);
        }
        VulkanDevice.check(vkEndCommandBuffer(b.cmd), "vkEndCommandBuffer");
        Captured c = new Captured(b, List.copyOf(pinning.keySet()), b.commands);
        capturing = null;
        current = null;
        pinning = null;
        return c;
    }

    /** A capture set aside by {@link #suspendCapture()}. */
    record Suspended(Batch capturing, java.util.IdentityHashMap<VulkanBuffer, Boolean> pinning) {
    }

    /**
     * Sets the capture under way aside (if any), so that what is recorded until {@link #resumeCapture} goes into
     * ordinary batches: for the device's own one-time uploads (a kernel's table created inside a captured step).
     */
    Suspended suspendCapture() {
        Suspended s = new Suspended(capturing, pinning);
        if (capturing != null) {
            capturing = null;
            pinning = null;
            current = null;
        }
        return s;
    }

    /** Submits what was recorded since {@link #suspendCapture()} and records into the capture again. */
    void resumeCapture(Suspended s) {
        if (s.capturing() != null) {
            submit();
            capturing = s.capturing();
            pinning = s.pinning();
            current = capturing;
        }
    }

    /** Drops the capture under way (after a failure in the step); returns the buffers it pinned. */
    List<VulkanBuffer> abortCapture() {
        Batch b = capturing;
        List<VulkanBuffer> pins = List.copyOf(pinning.keySet());
        capturing = null;
        current = null;
        pinning = null;
        vkEndCommandBuffer(b.cmd);
        release(b);
        return pins;
    }

    /**
     * Submits a captured step again, after what is recorded so far; first waits for its previous replay if that is
     * still pending (a command buffer without {@code SIMULTANEOUS_USE} may be pending once). Does not wait.
     */
    void replay(Captured c) {
        notCapturing("replay");
        submit();
        Batch g = c.batch();
        if (g.pending) {
            waitFor(g.serial);
        }
        g.serial = ++serialCounter;
        try (MemoryStack st = stackPush()) {
            VkSubmitInfo si = VkSubmitInfo.calloc(st).sType$Default().pCommandBuffers(st.pointers(g.cmd));
            VulkanDevice.check(vkQueueSubmit(queue, si, g.fence), "vkQueueSubmit");
        }
        g.pending = true;
        submits++;
        inFlight.add(g);
        for (VulkanBuffer vb : c.pins()) {
            vb.lastUse = g.serial;
        }
    }

    /** Waits for a captured step's pending replay, then frees its command buffer and fence. */
    void release(Batch g) {
        if (g.pending) {
            waitFor(g.serial);
        }
        vkFreeCommandBuffers(device, commandPool, g.cmd);
        vkDestroyFence(device, g.fence, null);
        all.remove(g);
    }

    /** Submits the batch being recorded, if it holds any command; does not wait. */
    void submit() {
        notCapturing("a submit");
        Batch b = current;
        if (b == null || b.commands == 0) {
            return;
        }
        try (MemoryStack st = stackPush()) {
            barrier(b.cmd, st, true);
            VulkanDevice.check(vkEndCommandBuffer(b.cmd), "vkEndCommandBuffer");
            VkSubmitInfo si = VkSubmitInfo.calloc(st).sType$Default().pCommandBuffers(st.pointers(b.cmd));
            VulkanDevice.check(vkQueueSubmit(queue, si, b.fence), "vkQueueSubmit");
        }
        submits++;
        inFlight.add(b);
        current = null;
    }

    /** Waits until the batch with {@code serial} (and every earlier one) has completed, submitting it if needed. */
    void waitFor(long serial) {
        if (serial <= completedSerial) {
            return;
        }
        notCapturing("a wait");
        if (current != null && current.serial <= serial) {
            submit();
        }
        while (!inFlight.isEmpty() && inFlight.peek().serial <= serial) {
            Batch b = inFlight.peek();
            VulkanDevice.check(vkWaitForFences(device, b.fence, true, Long.MAX_VALUE), "vkWaitForFences");
            reclaim(inFlight.poll());
        }
    }

    /** Submits what is recorded and waits for all of it. */
    void waitIdle() {
        submit();
        while (!inFlight.isEmpty()) {
            Batch b = inFlight.peek();
            VulkanDevice.check(vkWaitForFences(device, b.fence, true, Long.MAX_VALUE), "vkWaitForFences");
            reclaim(inFlight.poll());
        }
    }

    /** Reclaims the submitted batches that have completed, without waiting. */
    void poll() {
        while (!inFlight.isEmpty() && vkGetFenceStatus(device, inFlight.peek().fence) == VK_SUCCESS) {
            reclaim(inFlight.poll());
        }
    }

    /**
     * Destroys {@code buffer} now if no pending work uses it, else once the last batch using it completes; with
     * {@code submit}, a batch still being recorded that uses it is submitted now (so its memory comes back soon).
     */
    void free(VulkanBuffer buffer, boolean submit) {
        if (buffer.lastUse <= completedSerial) {
            destroyer.accept(buffer);
            return;
        }
        deferred.add(new Deferred(buffer, buffer.lastUse));
        if (submit && capturing == null && current != null && current.serial <= buffer.lastUse) {
            submit();
        }
        poll();
    }

    /** Buffers whose destruction waits for pending work. */
    int deferredFrees() {
        return deferred.size();
    }

    private Batch recording() {
        if (current != null) {
            return current;
        }
        poll();
        Batch b = idle.poll();
        if (b == null && inFlight.size() >= MAX_IN_FLIGHT) {
            Batch oldest = inFlight.peek();
            VulkanDevice.check(vkWaitForFences(device, oldest.fence, true, Long.MAX_VALUE), "vkWaitForFences");
            reclaim(inFlight.poll());
            b = idle.poll();
        }
        if (b == null) {
            b = create();
        }
        try (MemoryStack st = stackPush()) {
            VkCommandBufferBeginInfo bi = VkCommandBufferBeginInfo.calloc(st).sType$Default()
                    .flags(VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT);
            VulkanDevice.check(vkBeginCommandBuffer(b.cmd, bi), "vkBeginCommandBuffer");
        }
        b.serial = ++serialCounter;
        b.commands = 0;
        b.pipeline = 0;
        current = b;
        return b;
    }

    private Batch create() {
        Batch b = new Batch();
        try (MemoryStack st = stackPush()) {
            VkCommandBufferAllocateInfo ai = VkCommandBufferAllocateInfo.calloc(st).sType$Default()
                    .commandPool(commandPool).level(VK_COMMAND_BUFFER_LEVEL_PRIMARY).commandBufferCount(1);
            PointerBuffer pc = st.mallocPointer(1);
            VulkanDevice.check(vkAllocateCommandBuffers(device, ai, pc), "vkAllocateCommandBuffers");
            b.cmd = new VkCommandBuffer(pc.get(0), device);
            LongBuffer pl = st.mallocLong(1);
            VulkanDevice.check(vkCreateFence(device, VkFenceCreateInfo.calloc(st).sType$Default(), null, pl),
                    "vkCreateFence");
            b.fence = pl.get(0);
        }
        all.add(b);
        return b;
    }

    private void reclaim(Batch b) {
        VulkanDevice.check(vkResetFences(device, b.fence), "vkResetFences");
        completedSerial = Math.max(completedSerial, b.serial);
        if (b.reusable) {
            b.pending = false;
        } else {
            idle.add(b);
        }
        for (Iterator<Deferred> it = deferred.iterator(); it.hasNext(); ) {
            Deferred d = it.next();
            if (d.serial() <= completedSerial) {
                it.remove();
                destroyer.accept(d.buffer());
            }
        }
    }

    private static void barrier(VkCommandBuffer cmd, MemoryStack st, boolean toHost) {
        VkMemoryBarrier.Buffer mb = VkMemoryBarrier.calloc(1, st).sType$Default()
                .srcAccessMask(VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT)
                .dstAccessMask(toHost ? VK_ACCESS_HOST_READ_BIT
                        : VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT
                        | VK_ACCESS_TRANSFER_WRITE_BIT);
        int src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        int dst = toHost ? VK_PIPELINE_STAGE_HOST_BIT : src;
        vkCmdPipelineBarrier(cmd, src, dst, 0, mb, null, null);
    }

    /** Waits for all work and destroys the batches (the command pool is the device's). */
    void close() {
        try {
            if (capturing == null) {
                waitIdle();
            }
        } finally {
            capturing = null;
            if (current != null) {
                vkEndCommandBuffer(current.cmd);
                current = null;
            }
            for (Batch b : all) {
                vkDestroyFence(device, b.fence, null);
            }
            all.clear();
            for (Deferred d : deferred) {
                destroyer.accept(d.buffer());
            }
            deferred.clear();
            descriptors.close();
        }
    }
}

package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.util.vma.Vma.*;
import static org.lwjgl.vulkan.VK10.*;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;
import org.lwjgl.util.vma.VmaAllocationCreateInfo;
import org.lwjgl.util.vma.VmaAllocationInfo;
import org.lwjgl.util.vma.VmaAllocatorCreateInfo;
import org.lwjgl.util.vma.VmaBudget;
import org.lwjgl.util.vma.VmaVulkanFunctions;
import org.lwjgl.vulkan.EXTMemoryBudget;
import org.lwjgl.vulkan.KHRPortabilitySubset;
import org.lwjgl.vulkan.VkBufferCreateInfo;
import org.lwjgl.vulkan.VkCommandPoolCreateInfo;
import org.lwjgl.vulkan.VkComputePipelineCreateInfo;
import org.lwjgl.vulkan.VkDescriptorSetLayoutBinding;
import org.lwjgl.vulkan.VkDescriptorSetLayoutCreateInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkDeviceCreateInfo;
import org.lwjgl.vulkan.VkDeviceQueueCreateInfo;
import org.lwjgl.vulkan.VkInstance;
import org.lwjgl.vulkan.VkPhysicalDeviceFeatures;
import org.lwjgl.vulkan.VkPhysicalDeviceMemoryProperties;
import org.lwjgl.vulkan.VkPipelineLayoutCreateInfo;
import org.lwjgl.vulkan.VkPipelineShaderStageCreateInfo;
import org.lwjgl.vulkan.VkPushConstantRange;
import org.lwjgl.vulkan.VkQueue;
import org.lwjgl.vulkan.VkShaderModuleCreateInfo;
import org.tensorbuffer.types.DType;
import org.tensorbuffer.device.Device;
import org.tensorbuffer.device.DeviceBuffer;
import org.tensorbuffer.device.DeviceKind;
import org.tensorbuffer.device.DeviceOutOfMemoryException;
import org.tensorbuffer.device.DeviceUnavailableException;
import org.tensorbuffer.device.Kernels;
import org.tensorbuffer.device.MemoryInfo;
import org.tensorbuffer.device.StepGraph;

/**
 * A Vulkan compute device through LWJGL: Metal on macOS (MoltenVK), Mesa lavapipe on a CPU, or any GPU driver.
 *
 * <p><b>Memory.</b> Every {@link #allocate} is one {@code vmaCreateBuffer} (the Vulkan Memory Allocator suballocates
 * the {@code VkDeviceMemory} blocks). On a discrete GPU the buffers are device-local and host copies go through
 * host-visible staging buffers; on an integrated GPU or a CPU device (Apple silicon, lavapipe) the buffers are
 * host-visible and mapped, and host copies are {@code memcpy}s once the work using the buffer has finished. A
 * {@link DeviceBuffer} of this device has {@code handle()} a {@link VulkanBuffer} (package-private) and
 * {@code address()} the byte offset into it (0 for a root; a slice adds its offset).
 *
 * <p><b>Work.</b> Kernels and device copies are recorded into command buffers and submitted lazily by a
 * {@link CommandBatcher}: on {@link #copyToHost}, {@link #synchronize}, {@link Kernels#argmax}, the free of a buffer in
 * use, or every {@value CommandBatcher#MAX_COMMANDS} commands. Freeing a buffer that pending work still uses defers its
 * destruction until that work has completed (stream-ordered free).
 *
 * <p>Thread-safe: every call takes the device's lock (one queue, recorded in call order).
 */
public final class VulkanDevice implements Device {
    /** System property: {@code true} forces staging copies even where memory is host-visible (for tests). */
    public static final String FORCE_STAGING_PROPERTY = "tensorbuffer.vulkan.staging";

    private final String id;
    private final DeviceKind kind;
    private final VkInstance instance;
    private final VulkanSetup.VkFacts facts;
    private final VkDevice device;
    private final VkQueue queue;
    private final long allocator;
    private final long commandPool;
    private final long setLayout;
    private final long pipelineLayout;
    private final boolean hostVisibleBuffers;
    private final boolean memoryBudgetExt;
    private final CommandBatcher batcher;
    private final Map<String, Long> pipelines = new ConcurrentHashMap<>();
    private final VulkanKernels kernels;
    private final VulkanBuffer result;
    /** Root buffers allocated and not yet freed (destroyed by {@link #close()}). */
    private final java.util.Set<VulkanBuffer> live = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
    private long liveBytes;
    private long liveBuffers;
    private long allocations;
    private boolean closed;

    /**
     * Opens the best compute-capable Vulkan device.
     *
     * @param id   the device id ({@code vulkan} or {@code metal})
     * @param kind {@link DeviceKind#VULKAN} or {@link DeviceKind#METAL}
     * @throws DeviceUnavailableException if there is no Vulkan loader, driver or suitable device
     */
    public VulkanDevice(String id, DeviceKind kind) {
        this.id = id;
        this.kind = kind;
        int api;
        VkInstance inst;
        try {
            api = VulkanSetup.instanceApiVersion();
            inst = VulkanSetup.createInstance(api);
        } catch (RuntimeException | LinkageError e) {
            throw new DeviceUnavailableException("no usable Vulkan loader or driver (" + e.getMessage()
                    + "); install the Vulkan loader and a driver, e.g. Debian's libvulkan1 and mesa-vulkan-drivers");
        }
        this.instance = inst;
        try {
            VulkanSetup.Picked picked = VulkanSetup.pick(inst, api);
            this.facts = picked.facts();
            try (MemoryStack st = stackPush()) {
                List<String> exts = new ArrayList<>();
                if (facts.extensions().contains(KHRPortabilitySubset.VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME)) {
                    exts.add(KHRPortabilitySubset.VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME);
                }
                memoryBudgetExt = facts.extensions().contains(EXTMemoryBudget.VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
                if (memoryBudgetExt) {
                    exts.add(EXTMemoryBudget.VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
                }
                PointerBuffer names = st.mallocPointer(exts.size());
                for (String e : exts) {
                    names.put(st.UTF8(e));
                }
                names.flip();
                VkDeviceQueueCreateInfo.Buffer qci = VkDeviceQueueCreateInfo.calloc(1, st).sType$Default()
                        .queueFamilyIndex(picked.queueFamily()).pQueuePriorities(st.floats(1f));
                VkPhysicalDeviceFeatures features = VkPhysicalDeviceFeatures.calloc(st)
                        .shaderFloat64(facts.float64());
                VkDeviceCreateInfo dci = VkDeviceCreateInfo.calloc(st).sType$Default().pQueueCreateInfos(qci)
                        .ppEnabledExtensionNames(names).pEnabledFeatures(features);
                PointerBuffer pp = st.mallocPointer(1);
                check(vkCreateDevice(picked.device(), dci, null, pp), "vkCreateDevice");
                device = new VkDevice(pp.get(0), picked.device(), dci, api);
                vkGetDeviceQueue(device, picked.queueFamily(), 0, pp);
                queue = new VkQueue(pp.get(0), device);

                VmaVulkanFunctions fns = VmaVulkanFunctions.calloc(st).set(inst, device);
                VmaAllocatorCreateInfo aci = VmaAllocatorCreateInfo.calloc(st).physicalDevice(picked.device())
                        .device(device).instance(inst).pVulkanFunctions(fns).vulkanApiVersion(api)
                        .flags(memoryBudgetExt ? VMA_ALLOCATOR_CREATE_EXT_MEMORY_BUDGET_BIT : 0);
                check(vmaCreateAllocator(aci, pp), "vmaCreateAllocator");
                allocator = pp.get(0);

                LongBuffer pl = st.mallocLong(1);
                check(vkCreateCommandPool(device, VkCommandPoolCreateInfo.calloc(st).sType$Default()
                        .flags(VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT)
                        .queueFamilyIndex(picked.queueFamily()), null, pl), "vkCreateCommandPool");
                commandPool = pl.get(0);
                VkDescriptorSetLayoutBinding.Buffer bindings =
                        VkDescriptorSetLayoutBinding.calloc(CommandBatcher.BINDINGS, st);
                for (int i = 0; i < CommandBatcher.BINDINGS; i++) {
                    bindings.get(i).binding(i).descriptorType(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER).descriptorCount(1)
                            .stageFlags(VK_SHADER_STAGE_COMPUTE_BIT);
                }
                check(vkCreateDescriptorSetLayout(device, VkDescriptorSetLayoutCreateInfo.calloc(st).sType$Default()
                        .pBindings(bindings), null, pl), "vkCreateDescriptorSetLayout");
                setLayout = pl.get(0);
                VkPushConstantRange.Buffer push = VkPushConstantRange.calloc(1, st)
                        .stageFlags(VK_SHADER_STAGE_COMPUTE_BIT).offset(0).size(Push.MAX_BYTES);
                check(vkCreatePipelineLayout(device, VkPipelineLayoutCreateInfo.calloc(st).sType$Default()
                        .pSetLayouts(st.longs(setLayout)).pPushConstantRanges(push), null, pl),
                        "vkCreatePipelineLayout");
                pipelineLayout = pl.get(0);
            }
            hostVisibleBuffers = facts.unifiedMemory() && !Boolean.getBoolean(FORCE_STAGING_PROPERTY);
            batcher = new CommandBatcher(device, queue, commandPool, setLayout, pipelineLayout, this::destroy);
            result = createBuffer(16, 16, true);
            kernels = new VulkanKernels(this);
        } catch (RuntimeException e) {
            vkDestroyInstance(inst, null);
            throw e instanceof DeviceUnavailableException d ? d
                    : new DeviceUnavailableException("Vulkan device could not be opened: " + e.getMessage());
        }
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String name() {
        return facts.name();
    }

    @Override
    public DeviceKind kind() {
        return kind;
    }

    /** 64 bytes, or the device's minStorageBufferOffsetAlignment if larger (so that pool slices bind directly). */
    @Override
    public long minAlignment() {
        return Math.max(64, facts.minStorageBufferOffsetAlignment());
    }

    /** Whether kernels of {@link DType#F64} run here (the device has {@code shaderFloat64}). */
    public boolean supportsFloat64() {
        return facts.float64();
    }

    /** Whether buffers are host-visible and mapped (unified memory) rather than device-local with staging. */
    public boolean hostVisibleBuffers() {
        return hostVisibleBuffers;
    }

    /** Command-buffer submits so far (for tests and benchmarks of batching). */
    public synchronized long submitCount() {
        return batcher.submits();
    }

    /** Commands (dispatches and copies) recorded so far. */
    public synchronized long commandCount() {
        return batcher.commands();
    }

    @Override
    public synchronized DeviceBuffer allocate(long byteSize, long alignment) {
        if (byteSize < 0) {
            throw new IllegalArgumentException("negative allocation size " + byteSize);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment " + alignment + " is not a power of two");
        }
        ensureOpen();
        if (byteSize == 0) {
            return new DeviceBuffer(this, 0, 0, new VulkanBuffer(0, 0, 0, 0, false));
        }
        // VkBuffer sizes are rounded up to 16 bytes so that the type-free shaders (fill, strided copy) may touch the
        // whole 32-bit word holding the last byte.
        long rounded = (byteSize + 15) & ~15L;
        if (rounded < byteSize) {
            throw new DeviceOutOfMemoryException(id, byteSize, "size overflows");
        }
        VulkanBuffer vb = createBuffer(rounded, Math.max(alignment, minAlignment()), hostVisibleBuffers);
        live.add(vb);
        liveBytes += byteSize;
        liveBuffers++;
        allocations++;
        return new DeviceBuffer(this, 0, byteSize, vb);
    }

    /**
     * Creates a storage buffer through VMA: host-visible and mapped if {@code mapped}, else device-local. On an
     * out-of-memory result waits for pending work (which completes deferred frees) and retries once.
     */
    VulkanBuffer createBuffer(long size, long alignment, boolean mapped) {
        int r = tryCreate(size, alignment, mapped);
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
            batcher.waitIdle();
            r = tryCreate(size, alignment, mapped);
        }
        if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY) {
            throw new DeviceOutOfMemoryException(id, size, "vmaCreateBuffer: " + result(r));
        }
        if (r != VK_SUCCESS) {
            throw new DeviceOutOfMemoryException(id, size, "vmaCreateBuffer failed: " + result(r));
        }
        return created;
    }

    private VulkanBuffer created;

    private int tryCreate(long size, long alignment, boolean mapped) {
        try (MemoryStack st = stackPush()) {
            VkBufferCreateInfo bi = VkBufferCreateInfo.calloc(st).sType$Default().size(size)
                    .usage(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT
                            | VK_BUFFER_USAGE_TRANSFER_DST_BIT)
                    .sharingMode(VK_SHARING_MODE_EXCLUSIVE);
            VmaAllocationCreateInfo ai = VmaAllocationCreateInfo.calloc(st)
                    .usage(mapped ? VMA_MEMORY_USAGE_AUTO : VMA_MEMORY_USAGE_AUTO_PREFER_DEVICE)
                    .flags(mapped ? VMA_ALLOCATION_CREATE_HOST_ACCESS_RANDOM_BIT | VMA_ALLOCATION_CREATE_MAPPED_BIT
                            : 0);
            LongBuffer pb = st.mallocLong(1);
            PointerBuffer pa = st.mallocPointer(1);
            VmaAllocationInfo info = VmaAllocationInfo.calloc(st);
            int r = vmaCreateBufferWithAlignment(allocator, bi, ai, alignment, pb, pa, info);
            if (r != VK_SUCCESS) {
                return r;
            }
            IntBuffer flags = st.mallocInt(1);
            vmaGetAllocationMemoryProperties(allocator, pa.get(0), flags);
            boolean coherent = (flags.get(0) & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
            created = new VulkanBuffer(pb.get(0), pa.get(0), info.pMappedData(), size, mapped && !coherent);
            return r;
        }
    }

    /** Makes device writes to a mapped, non-coherent buffer visible to the host (after waiting for them). */
    void invalidate(VulkanBuffer vb) {
        if (vb.nonCoherent) {
            vmaInvalidateAllocation(allocator, vb.allocation, 0, VK_WHOLE_SIZE);
        }
    }

    private void destroy(VulkanBuffer vb) {
        batcher.descriptors().forget(vb);
        if (vb.buffer != 0) {
            vmaDestroyBuffer(allocator, vb.buffer, vb.allocation);
        }
    }

    @Override
    public synchronized void free(DeviceBuffer buffer) {
        if (buffer.device() != this) {
            throw new IllegalArgumentException(buffer + " belongs to device " + buffer.device().id() + ", not " + id);
        }
        if (!buffer.isRoot()) {
            throw new IllegalArgumentException(buffer + " is a slice; free its root buffer");
        }
        VulkanBuffer vb = (VulkanBuffer) buffer.handle();
        if (vb.freed) {
            throw new IllegalStateException(buffer + " was already freed (double free)");
        }
        ensureOpen();
        vb.freed = true;
        if (vb.buffer == 0) {
            return;
        }
        if (vb.pins > 0) {
            vb.heldFreeBytes = buffer.byteSize(); // an open captured step uses it: freed when the last one closes
            return;
        }
        release(vb, buffer.byteSize(), true);
    }

    /** Drops a freed buffer from the live accounting and hands it to the batcher (destroyed once no work uses it). */
    private void release(VulkanBuffer vb, long bytes, boolean submit) {
        live.remove(vb);
        liveBytes -= bytes;
        liveBuffers--;
        batcher.free(vb, submit);
    }

    /** The buffer behind {@code b}, checked to be a live buffer of this device. */
    VulkanBuffer resolve(DeviceBuffer b) {
        if (b.device() != this || !(b.handle() instanceof VulkanBuffer vb)) {
            throw new IllegalArgumentException(b + " does not belong to device " + id);
        }
        if (vb.freed) {
            throw new IllegalStateException(b + " is used after it was freed");
        }
        return vb;
    }

    static void checkRange(DeviceBuffer b, long offset, long bytes) {
        if (offset < 0 || bytes < 0 || offset + bytes > b.byteSize()) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + (offset + bytes) + ") is outside " + b);
        }
    }

    /** Copies from the host; does nothing on a thread that is {@linkplain #prepare preparing} a step. */
    @Override
    public synchronized void copyFromHost(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset,
                                          long byteCount) {
        ensureOpen();
        if (batcher.preparing()) {
            resolve(dst);
            return;
        }
        if (batcher.capturing()) {
            throw new IllegalStateException("copyFromHost inside a capture: write a captured step's inputs before "
                    + "each replay, not inside the step");
        }
        copyIn(src, srcOffset, dst, dstOffset, byteCount);
    }

    /**
     * {@link #copyFromHost}, also while this thread is preparing or capturing a step (for the kernels' own tables: a
     * staging copy then goes into an ordinary batch submitted at once, not into the captured step); under the lock.
     */
    void upload(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        Thread preparer = batcher.preparer();
        batcher.preparer(null);
        CommandBatcher.Suspended capture = batcher.suspendCapture();
        try {
            copyIn(src, srcOffset, dst, dstOffset, byteCount);
        } finally {
            batcher.resumeCapture(capture);
            batcher.preparer(preparer);
        }
    }

    private void copyIn(MemorySegment src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        VulkanBuffer vb = resolve(dst);
        checkRange(dst, dstOffset, byteCount);
        if (srcOffset < 0 || srcOffset + byteCount > src.byteSize()) {
            throw new IndexOutOfBoundsException("source range [" + srcOffset + ", " + (srcOffset + byteCount)
                    + ") is outside a segment of " + src.byteSize() + " bytes");
        }
        if (byteCount == 0) {
            return;
        }
        long off = dst.address() + dstOffset;
        if (vb.mapped != 0) {
            batcher.waitFor(vb.lastUse);
            MemorySegment.copy(src, srcOffset, mappedSegment(vb), off, byteCount);
            if (vb.nonCoherent) {
                vmaFlushAllocation(allocator, vb.allocation, off, byteCount);
            }
            return;
        }
        VulkanBuffer staging = createBuffer(byteCount, 16, true);
        MemorySegment.copy(src, srcOffset, mappedSegment(staging), 0, byteCount);
        if (staging.nonCoherent) {
            vmaFlushAllocation(allocator, staging.allocation, 0, byteCount);
        }
        batcher.copy(staging, 0, vb, off, byteCount);
        batcher.free(staging, false); // destroyed once the copy has run; no need to submit for it
    }

    /**
     * Copies to the host after earlier work; on a thread that is {@linkplain #prepare preparing} a step it leaves
     * {@code dst} as it was.
     */
    @Override
    public synchronized void copyToHost(DeviceBuffer src, long srcOffset, MemorySegment dst, long dstOffset,
                                        long byteCount) {
        ensureOpen();
        VulkanBuffer vb = resolve(src);
        if (batcher.preparing()) {
            return;
        }
        if (batcher.capturing()) {
            throw new IllegalStateException("copyToHost inside a capture: read a captured step's outputs after a "
                    + "replay, not inside the step");
        }
        checkRange(src, srcOffset, byteCount);
        if (dstOffset < 0 || dstOffset + byteCount > dst.byteSize()) {
            throw new IndexOutOfBoundsException("destination range [" + dstOffset + ", " + (dstOffset + byteCount)
                    + ") is outside a segment of " + dst.byteSize() + " bytes");
        }
        long off = src.address() + srcOffset;
        if (byteCount == 0) {
            batcher.waitIdle();
            return;
        }
        if (vb.mapped != 0) {
            batcher.waitIdle();
            if (vb.nonCoherent) {
                vmaInvalidateAllocation(allocator, vb.allocation, off, byteCount);
            }
            MemorySegment.copy(mappedSegment(vb), off, dst, dstOffset, byteCount);
            return;
        }
        VulkanBuffer staging = createBuffer(byteCount, 16, true);
        try {
            batcher.copy(vb, off, staging, 0, byteCount);
            batcher.waitIdle();
            if (staging.nonCoherent) {
                vmaInvalidateAllocation(allocator, staging.allocation, 0, byteCount);
            }
            MemorySegment.copy(mappedSegment(staging), 0, dst, dstOffset, byteCount);
        } finally {
            batcher.free(staging, false);
        }
    }

    private static MemorySegment mappedSegment(VulkanBuffer vb) {
        return MemorySegment.ofAddress(vb.mapped).reinterpret(vb.size);
    }

    @Override
    public synchronized void copy(DeviceBuffer src, long srcOffset, DeviceBuffer dst, long dstOffset, long byteCount) {
        ensureOpen();
        VulkanBuffer s = resolve(src);
        VulkanBuffer d = resolve(dst);
        checkRange(src, srcOffset, byteCount);
        checkRange(dst, dstOffset, byteCount);
        if (byteCount == 0) {
            return;
        }
        long so = src.address() + srcOffset;
        long dO = dst.address() + dstOffset;
        if (s == d && so < dO + byteCount && dO < so + byteCount) {
            throw new IllegalArgumentException("overlapping copy ranges in one buffer: [" + so + ", "
                    + (so + byteCount) + ") and [" + dO + ", " + (dO + byteCount) + ")");
        }
        batcher.copy(s, so, d, dO, byteCount);
    }

    @Override
    public void fill(DeviceBuffer dst, long offset, long count, DType dtype, double value) {
        kernels.fill(dst, offset, count, dtype, value);
    }

    @Override
    public synchronized MemoryInfo memoryInfo() {
        if (closed) {
            return MemoryInfo.UNKNOWN;
        }
        long total = 0;
        long free = 0;
        try (MemoryStack st = stackPush()) {
            VkPhysicalDeviceMemoryProperties mp = VkPhysicalDeviceMemoryProperties.calloc(st);
            vkGetPhysicalDeviceMemoryProperties(device.getPhysicalDevice(), mp);
            VmaBudget.Buffer budgets = VmaBudget.calloc(VK_MAX_MEMORY_HEAPS, st);
            vmaGetHeapBudgets(allocator, budgets);
            for (int h = 0; h < mp.memoryHeapCount(); h++) {
                if ((mp.memoryHeaps(h).flags() & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0) {
                    total += mp.memoryHeaps(h).size();
                    free += Math.max(0, budgets.get(h).budget() - budgets.get(h).usage());
                }
            }
        }
        return new MemoryInfo(total, free);
    }

    @Override
    public Kernels kernels() {
        return kernels;
    }

    @Override
    public synchronized void synchronize() {
        ensureOpen();
        if (batcher.capturing()) {
            throw new IllegalStateException("synchronize inside a capture: a captured step cannot wait");
        }
        if (!batcher.preparing()) {
            batcher.waitIdle();
        }
    }

    /**
     * Runs {@code step} ahead on the calling thread without doing its work, so that the step's first real run finds
     * its descriptor sets made: while it runs, on this thread, every kernel creates (or finds) the descriptor set of
     * its buffer bindings and records nothing, device copies and {@link #copyFromHost} do nothing, {@link
     * #copyToHost} leaves the host memory as it was, {@link Kernels#argmax} returns 0 and {@link #synchronize()}
     * returns at once; allocations and frees are real. Other threads use the device as usual meanwhile.
     *
     * <p>The step runs again (at most {@value #PREPARE_PASSES} times in all) while a run still creates descriptor
     * sets, since a step's buffers may come out of a pool in another order on its next run (a LIFO cache hands the
     * blocks released last out first). The sets stay cached until one of their buffers is destroyed; every later
     * dispatch with the same bindings, prepared or not, reuses them ({@link #descriptorSetsCreated()}).
     *
     * <p>This is what a caller who knows its buffers ahead (a proactive {@code TensorBuffer}
     * whose reservations hold every buffer of the step) can move out of the first step: the step's tensors must then
     * come from the same blocks in the real run. The step must not depend on values it reads from the device.
     *
     * @return descriptor sets created ahead
     * @throws IllegalStateException if the device is closed, or this thread is already preparing
     */
    @Override
    public int prepare(Runnable step) {
        synchronized (this) {
            ensureOpen();
            if (batcher.preparing()) {
                throw new IllegalStateException("prepare called inside prepare on " + Thread.currentThread());
            }
            batcher.preparer(Thread.currentThread());
        }
        long before = descriptorSetsCreated();
        try {
            for (int pass = 0; pass < PREPARE_PASSES; pass++) {
                long c = descriptorSetsCreated();
                step.run();
                if (descriptorSetsCreated() == c) {
                    break;
                }
            }
        } finally {
            synchronized (this) {
                batcher.preparer(null);
            }
        }
        return (int) (descriptorSetsCreated() - before);
    }

    /**
     * Records {@code step} into one reusable command buffer ({@link Device#capture}): the step runs once on the calling
     * thread under the device's lock (other threads wait until it ends), its kernels and copies are recorded without
     * {@code ONE_TIME_SUBMIT} and not run, and {@link StepGraph#replay()} is one {@code vkQueueSubmit} of it. Every
     * buffer a recorded command uses is pinned while the graph is open (a {@link #free} of one is held back until the
     * graph closes) and its descriptor sets stay cached with it. What the recording would otherwise bake in must come
     * from device memory: the tensor-indexed kernels read positions and row indices on the device. Inside the step
     * {@link #copyToHost}, {@link #copyFromHost}, {@link #synchronize()} and {@link Kernels#argmax} throw
     * {@link IllegalStateException} (use {@link Kernels#argmaxInto}); a failed step leaves nothing recorded or pinned.
     * The step must not wait for another thread that uses this device (that thread waits for the lock).
     *
     * @return the graph (never empty on this device)
     * @throws IllegalStateException if the device is closed, a capture or a {@link #prepare} is under way on this
     *                               thread, or the step did something that cannot be captured
     */
    @Override
    public java.util.Optional<StepGraph> capture(Runnable step) {
        synchronized (this) {
            ensureOpen();
            if (batcher.capturing()) {
                throw new IllegalStateException("capture inside a capture on " + id);
            }
            if (batcher.preparing()) {
                throw new IllegalStateException("capture inside prepare on " + id);
            }
            batcher.beginCapture();
            CommandBatcher.Captured c;
            try {
                step.run();
                c = batcher.endCapture();
            } catch (RuntimeException | Error e) {
                if (!closed && batcher.capturing()) {
                    unpin(batcher.abortCapture());
                }
                throw e;
            }
            return java.util.Optional.of(new VulkanStepGraph(this, c));
        }
    }

    /**
     * Drops one pin of each buffer (a captured step closing); a buffer freed while pinned is freed now when no other
     * open graph pins it. Under the lock.
     */
    void unpin(List<VulkanBuffer> pins) {
        for (VulkanBuffer vb : pins) {
            if (--vb.pins == 0 && vb.heldFreeBytes >= 0) {
                long bytes = vb.heldFreeBytes;
                vb.heldFreeBytes = -1;
                release(vb, bytes, false);
            }
        }
    }

    /** Whether the device has been closed (under the lock). */
    boolean isClosed() {
        return closed;
    }

    /** Most runs of the step in one {@link #prepare}. */
    public static final int PREPARE_PASSES = 8;

    /**
     * Descriptor sets created so far: one per distinct tuple of buffer bindings a kernel has bound (cached until one
     * of the buffers is destroyed), for tests and benchmarks of {@link #prepare}.
     */
    public synchronized long descriptorSetsCreated() {
        return batcher.descriptors().created();
    }

    @Override
    public synchronized Map<String, String> properties() {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("name", facts.name());
        p.put("type", facts.typeName());
        p.put("api", "Vulkan " + facts.apiVersionString());
        p.put("driver", facts.driverName().isEmpty() ? "unknown" : facts.driverName());
        if (!facts.driverInfo().isEmpty()) {
            p.put("driverInfo", facts.driverInfo());
        }
        p.put("vendorId", "0x" + Integer.toHexString(facts.vendorId()));
        p.put("moltenVK", Boolean.toString(facts.moltenVk()));
        p.put("float64", facts.float64() ? "yes (shaderFloat64)" : "no (float64 kernels unsupported)");
        p.put("memory", hostVisibleBuffers ? "host-visible mapped buffers (unified memory)"
                : "device-local buffers, host-visible staging for copies");
        p.put("allocator", "VMA (lwjgl-vma)" + (memoryBudgetExt ? ", VK_EXT_memory_budget" : ""));
        p.put("maxMemoryAllocationCount", Long.toString(facts.maxMemoryAllocationCount()));
        p.put("maxStorageBufferRange", Long.toString(facts.maxStorageBufferRange()));
        p.put("minStorageBufferOffsetAlignment", Long.toString(facts.minStorageBufferOffsetAlignment()));
        p.put("gemm", "GLSL compute: 16x16 shared-memory tiles; one workgroup per output when m == 1 or n == 1");
        p.put("shaders", "GLSL compiled at run time with shaderc (lwjgl-shaderc), one pipeline per op and dtype");
        if (!closed) {
            try (MemoryStack st = stackPush()) {
                VkPhysicalDeviceMemoryProperties mp = VkPhysicalDeviceMemoryProperties.calloc(st);
                vkGetPhysicalDeviceMemoryProperties(device.getPhysicalDevice(), mp);
                VmaBudget.Buffer budgets = VmaBudget.calloc(VK_MAX_MEMORY_HEAPS, st);
                vmaGetHeapBudgets(allocator, budgets);
                for (int h = 0; h < mp.memoryHeapCount(); h++) {
                    VmaBudget b = budgets.get(h);
                    boolean local = (mp.memoryHeaps(h).flags() & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0;
                    p.put("heap" + h, "size=" + mp.memoryHeaps(h).size() + " B" + (local ? " device-local" : "")
                            + ", budget=" + b.budget() + " B, usage=" + b.usage() + " B, blockBytes="
                            + b.statistics().blockBytes() + " B, allocationBytes="
                            + b.statistics().allocationBytes() + " B");
                }
            }
            p.put("liveBuffers", Long.toString(liveBuffers));
            p.put("liveBytes", Long.toString(liveBytes));
            p.put("submits", Long.toString(batcher.submits()));
            p.put("descriptorSets", batcher.descriptors().size() + " cached, " + batcher.descriptors().created()
                    + " created");
            p.put("pipelines", Integer.toString(pipelines.size()));
        }
        return p;
    }

    // ---- used by VulkanKernels and VulkanAllocProbe (under the device lock) ----

    /** The {@code VmaAllocator}. */
    long vmaAllocator() {
        return allocator;
    }

    /** The logical device. */
    VkDevice vkDevice() {
        return device;
    }

    VulkanSetup.VkFacts facts() {
        return facts;
    }

    CommandBatcher batcher() {
        return batcher;
    }

    VulkanBuffer resultBuffer() {
        return result;
    }

    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("device " + id + " is closed");
        }
    }

    /** The compute pipeline of shader {@code name} for {@code dtype}, created on first use. */
    long pipeline(String name, DType dtype) {
        String key = name + "." + (dtype == DType.F64 ? "f64" : "f32");
        Long p = pipelines.get(key);
        if (p != null) {
            return p;
        }
        byte[] spirv = ShaderCompiler.spirv(name, dtype);
        ByteBuffer code = MemoryUtil.memAlloc(spirv.length);
        try (MemoryStack st = stackPush()) {
            code.put(spirv).flip();
            LongBuffer pl = st.mallocLong(1);
            check(vkCreateShaderModule(device, VkShaderModuleCreateInfo.calloc(st).sType$Default().pCode(code), null,
                    pl), "vkCreateShaderModule " + name);
            long module = pl.get(0);
            try {
                VkPipelineShaderStageCreateInfo stage = VkPipelineShaderStageCreateInfo.calloc(st).sType$Default()
                        .stage(VK_SHADER_STAGE_COMPUTE_BIT).module(module).pName(st.UTF8("main"));
                VkComputePipelineCreateInfo.Buffer ci = VkComputePipelineCreateInfo.calloc(1, st).sType$Default()
                        .stage(stage).layout(pipelineLayout);
                check(vkCreateComputePipelines(device, VK_NULL_HANDLE, ci, null, pl),
                        "vkCreateComputePipelines " + name);
            } finally {
                vkDestroyShaderModule(device, module, null);
            }
            pipelines.put(key, pl.get(0));
            return pl.get(0);
        } finally {
            MemoryUtil.memFree(code);
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        try {
            batcher.close();
        } finally {
            closed = true;
            kernels.forgetTables();
            for (VulkanBuffer vb : live) {
                vb.freed = true;
                destroy(vb);
            }
            live.clear();
            destroy(result);
            for (long p : pipelines.values()) {
                vkDestroyPipeline(device, p, null);
            }
            pipelines.clear();
            vkDestroyPipelineLayout(device, pipelineLayout, null);
            vkDestroyDescriptorSetLayout(device, setLayout, null);
            vkDestroyCommandPool(device, commandPool, null);
            vmaDestroyAllocator(allocator);
            vkDestroyDevice(device, null);
            vkDestroyInstance(instance, null);
        }
    }

    @Override
    public String toString() {
        return "VulkanDevice[" + id + ", " + facts.name() + "]";
    }

    static void check(int r, String what) {
        if (r != VK_SUCCESS) {
            throw new IllegalStateException(what + " failed: " + result(r));
        }
    }

    /** Name of a {@code VkResult}. */
    static String result(int r) {
        return switch (r) {
            case VK_SUCCESS -> "VK_SUCCESS";
            case VK_NOT_READY -> "VK_NOT_READY";
            case VK_TIMEOUT -> "VK_TIMEOUT";
            case VK_ERROR_OUT_OF_HOST_MEMORY -> "VK_ERROR_OUT_OF_HOST_MEMORY";
            case VK_ERROR_OUT_OF_DEVICE_MEMORY -> "VK_ERROR_OUT_OF_DEVICE_MEMORY";
            case VK_ERROR_INITIALIZATION_FAILED -> "VK_ERROR_INITIALIZATION_FAILED";
            case VK_ERROR_DEVICE_LOST -> "VK_ERROR_DEVICE_LOST";
            case VK_ERROR_MEMORY_MAP_FAILED -> "VK_ERROR_MEMORY_MAP_FAILED";
            case VK_ERROR_LAYER_NOT_PRESENT -> "VK_ERROR_LAYER_NOT_PRESENT";
            case VK_ERROR_EXTENSION_NOT_PRESENT -> "VK_ERROR_EXTENSION_NOT_PRESENT";
            case VK_ERROR_FEATURE_NOT_PRESENT -> "VK_ERROR_FEATURE_NOT_PRESENT";
            case VK_ERROR_INCOMPATIBLE_DRIVER -> "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver found)";
            case VK_ERROR_TOO_MANY_OBJECTS -> "VK_ERROR_TOO_MANY_OBJECTS";
            case VK_ERROR_FORMAT_NOT_SUPPORTED -> "VK_ERROR_FORMAT_NOT_SUPPORTED";
            case VK_ERROR_FRAGMENTED_POOL -> "VK_ERROR_FRAGMENTED_POOL";
            default -> "VkResult " + r;
        };
    }
}

package org.tensorbuffer.metal;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;

import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.vulkan.VkDescriptorBufferInfo;
import org.lwjgl.vulkan.VkDescriptorPoolCreateInfo;
import org.lwjgl.vulkan.VkDescriptorPoolSize;
import org.lwjgl.vulkan.VkDescriptorSetAllocateInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkWriteDescriptorSet;
import org.tensorbuffer.metal.CommandBatcher.Binding;

/**
 * One descriptor set per distinct tuple of buffer bindings, written once and bound by every dispatch that binds the
 * same ranges of the same buffers, so that a dispatch whose bindings were seen before makes no
 * {@code vkAllocateDescriptorSets} and no {@code vkUpdateDescriptorSets} (on lavapipe the two cost about 4 us of the
 * recording thread's CPU per dispatch, most of a dispatch's host cost; measured in docs/benchmarks.md).
 *
 * <p>A set is never written again after it was created, so it may be bound by any number of command buffers in
 * flight. It is freed when one of the buffers it binds is destroyed ({@link #forget}); the device destroys a buffer
 * only after the last batch using it has completed, and every batch that bound the set also used that buffer, so no
 * pending work still binds a freed set. Sets come from pools of {@value #SETS_PER_POOL} sets created with
 * {@code VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT}; a new pool is added when every pool is full.
 *
 * <p>Not thread-safe: the device calls it under its lock.
 */
final class DescriptorCache {
    /** Descriptor sets per pool. */
    static final int SETS_PER_POOL = 512;

    /** The bindings of one dispatch, padded to {@link CommandBatcher#BINDINGS} as they are written. */
    static final class Key {
        final Binding[] bindings;
        final int hash;

        Key(Binding[] bindings) {
            this.bindings = bindings;
            int h = 1;
            for (Binding b : bindings) {
                h = 31 * h + System.identityHashCode(b.buffer());
                h = 31 * h + Long.hashCode(b.offset());
                h = 31 * h + Long.hashCode(b.range());
            }
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            if (!(o instanceof Key k) || k.hash != hash) {
                return false;
            }
            for (int i = 0; i < bindings.length; i++) {
                Binding a = bindings[i];
                Binding b = k.bindings[i];
                if (a.buffer() != b.buffer() || a.offset() != b.offset() || a.range() != b.range()) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    private record Entry(long set, long pool) {
    }

    private final VkDevice device;
    private final long setLayout;
    private final List<Long> pools = new ArrayList<>();
    private final Map<Key, Entry> sets = new HashMap<>();
    private int currentPool = -1;
    private long created;

    DescriptorCache(VkDevice device, long setLayout) {
        this.device = device;
        this.setLayout = setLayout;
    }

    /** Descriptor sets created so far (each one an allocate and a write of {@code BINDINGS} descriptors). */
    long created() {
        return created;
    }

    /** Descriptor sets alive now. */
    int size() {
        return sets.size();
    }

    /**
     * The descriptor set binding {@code bindings} (those beyond {@code bindings.length} repeat binding 0), created
     * and written on first use.
     */
    long set(Binding[] bindings) {
        Binding[] padded = bindings.length == CommandBatcher.BINDINGS ? bindings.clone()
                : Arrays.copyOf(bindings, CommandBatcher.BINDINGS);
        for (int i = bindings.length; i < padded.length; i++) {
            padded[i] = bindings[0];
        }
        Key key = new Key(padded);
        Entry e = sets.get(key);
        if (e != null) {
            return e.set();
        }
        e = create(padded);
        sets.put(key, e);
        for (int i = 0; i < padded.length; i++) {
            VulkanBuffer vb = padded[i].buffer();
            if (firstIndex(padded, vb) == i) {
                if (vb.descriptorKeys == null) {
                    vb.descriptorKeys = new ArrayList<>(4);
                }
                vb.descriptorKeys.add(key);
            }
        }
        created++;
        return e.set();
    }

    private static int firstIndex(Binding[] bs, VulkanBuffer vb) {
        for (int i = 0; ; i++) {
            if (bs[i].buffer() == vb) {
                return i;
            }
        }
    }

    private Entry create(Binding[] bindings) {
        try (MemoryStack st = stackPush()) {
            LongBuffer ps = st.mallocLong(1);
            long pool = allocate(st, ps);
            long set = ps.get(0);
            VkWriteDescriptorSet.Buffer writes = VkWriteDescriptorSet.calloc(bindings.length, st);
            for (int i = 0; i < bindings.length; i++) {
                Binding x = bindings[i];
                VkDescriptorBufferInfo.Buffer info = VkDescriptorBufferInfo.calloc(1, st)
                        .buffer(x.buffer().buffer).offset(x.offset()).range(x.range());
                writes.get(i).sType$Default().dstSet(set).dstBinding(i)
                        .descriptorType(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER).pBufferInfo(info).descriptorCount(1);
            }
            vkUpdateDescriptorSets(device, writes, null);
            return new Entry(set, pool);
        }
    }

    /** Allocates one set into {@code ps} from the current pool, another pool with room, or a new pool. */
    private long allocate(MemoryStack st, LongBuffer ps) {
        VkDescriptorSetAllocateInfo ai = VkDescriptorSetAllocateInfo.calloc(st).sType$Default()
                .pSetLayouts(st.longs(setLayout));
        if (currentPool >= 0 && vkAllocateDescriptorSets(device, ai.descriptorPool(pools.get(currentPool)), ps)
                == VK_SUCCESS) {
            return pools.get(currentPool);
        }
        for (int i = 0; i < pools.size(); i++) {
            if (i != currentPool && vkAllocateDescriptorSets(device, ai.descriptorPool(pools.get(i)), ps)
                    == VK_SUCCESS) {
                currentPool = i;
                return pools.get(i);
            }
        }
        VkDescriptorPoolSize.Buffer sizes = VkDescriptorPoolSize.calloc(1, st)
                .type(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER).descriptorCount(SETS_PER_POOL * CommandBatcher.BINDINGS);
        VkDescriptorPoolCreateInfo pi = VkDescriptorPoolCreateInfo.calloc(st).sType$Default()
                .flags(VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT).maxSets(SETS_PER_POOL).pPoolSizes(sizes);
        LongBuffer pl = st.mallocLong(1);
        VulkanDevice.check(vkCreateDescriptorPool(device, pi, null, pl), "vkCreateDescriptorPool");
        pools.add(pl.get(0));
        currentPool = pools.size() - 1;
        VulkanDevice.check(vkAllocateDescriptorSets(device, ai.descriptorPool(pl.get(0)), ps),
                "vkAllocateDescriptorSets");
        return pl.get(0);
    }

    /** Frees the sets that bind {@code vb} (called when the buffer is destroyed, after all work using it). */
    void forget(VulkanBuffer vb) {
        List<Key> keys = vb.descriptorKeys;
        if (keys == null) {
            return;
        }
        vb.descriptorKeys = null;
        for (Key key : keys) {
            Entry e = sets.remove(key);
            if (e == null) {
                continue;
            }
            try (MemoryStack st = stackPush()) {
                vkFreeDescriptorSets(device, e.pool(), st.longs(e.set()));
            }
            for (Binding b : key.bindings) {
                VulkanBuffer other = b.buffer();
                if (other != vb && other.descriptorKeys != null) {
                    other.descriptorKeys.remove(key);
                }
            }
        }
    }

    /** Destroys the pools (and so every set). */
    void close() {
        for (long p : pools) {
            vkDestroyDescriptorPool(device, p, null);
        }
        pools.clear();
        sets.clear();
        currentPool = -1;
    }
}

package org.tensorbuffer.memory;

import org.tensorbuffer.device.DeviceBuffer;

/**
 * Told whenever an allocator takes memory from its device or gives it back (a raw allocation or free, never a cache
 * hit), so a recorder such as {@code org.tensorbuffer.observe.MemoryHistory} can follow reserved bytes over time.
 *
 * <p>Called on the allocating or freeing thread, sometimes under the allocator's lock: implementations must be quick,
 * thread-safe, and must not call back into the allocator.
 */
@FunctionalInterface
public interface ReservationListener {
    /**
     * @param owner      the allocator ({@link BlockOwner#describe()} names it)
     * @param deltaBytes bytes taken from the device (positive) or given back (negative)
     */
    void reservationChanged(BlockOwner owner, long deltaBytes);

    /**
     * The same, with the device allocation concerned (its {@link DeviceBuffer#address()} identifies it); the
     * allocators call this one. The default calls {@link #reservationChanged(BlockOwner, long)}.
     *
     * @param owner      the allocator
     * @param buffer     the device allocation taken or given back
     * @param deltaBytes bytes taken from the device (positive) or given back (negative)
     */
    default void reservationChanged(BlockOwner owner, DeviceBuffer buffer, long deltaBytes) {
        reservationChanged(owner, deltaBytes);
    }
}

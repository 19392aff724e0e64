package org.tensorbuffer.memory;

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
}

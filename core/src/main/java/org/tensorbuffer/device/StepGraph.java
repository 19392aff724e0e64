package org.tensorbuffer.device;

/**
 * A step captured by {@link Device#capture}: its device work recorded once, replayed with the same buffers. The
 * step's inputs are whatever the caller writes into its input buffers before {@link #replay()}; its outputs are read
 * from its output buffers afterwards (a read to the host waits for the replay).
 *
 * <p>While the graph is open it keeps every buffer the step binds allocated (frees are deferred until
 * {@link #close()}). Thread-safe as its device is (calls take the device's lock).
 */
public interface StepGraph extends AutoCloseable {
    /**
     * Submits the captured work again, ordered after every earlier call on the device; does not wait for it.
     *
     * @throws IllegalStateException if the graph or its device is closed, or a buffer the step binds was freed
     */
    void replay();

    /** Commands (kernels and copies) in the graph. */
    int commands();

    /** Waits for a pending replay and releases the recorded work and the buffers' pins; a second call does nothing. */
    @Override
    void close();
}

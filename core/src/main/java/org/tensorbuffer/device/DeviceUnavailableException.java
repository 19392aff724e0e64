package org.tensorbuffer.device;

/** Thrown by {@link Devices#get(String)} for a device that is unknown or whose backend cannot run here. */
public class DeviceUnavailableException extends RuntimeException {
    /** @param message names the device and the reason (missing driver, no GPU, ...) */
    public DeviceUnavailableException(String message) {
        super(message);
    }

    /** @param message names the device and the reason; {@code cause} is the backend's error */
    public DeviceUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}

package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Test helper: one {@link CpuDevice} for a test class, registered as a static {@code @RegisterExtension} field; after
 * the class's last test it asserts that no buffer is still allocated (a kernel or test that leaked one fails the
 * class) and closes the device.
 */
final class LeakCheckedDevice implements AfterAllCallback {
    final CpuDevice device = new CpuDevice();

    @Override
    public void afterAll(ExtensionContext context) {
        assertThat(device.liveBuffers()).as("buffers still allocated after %s", context.getDisplayName()).isZero();
        device.close();
    }
}

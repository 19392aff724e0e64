package org.tensorbuffer.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.DeviceStatus;
import org.tensorbuffer.device.DeviceUnavailableException;
import org.tensorbuffer.device.Devices;

/** Runs everywhere: the provider never throws, and explains itself when there is no GPU. */
class CudaProviderTest {

    @Test
    void probeNeverThrowsAndGivesAReasonWhenUnavailable() {
        CudaDeviceProvider p = new CudaDeviceProvider();
        List<DeviceStatus> statuses = p.probe();
        assertThat(statuses).isNotEmpty();
        assertThat(p.probe()).isSameAs(statuses);
        for (DeviceStatus s : statuses) {
            assertThat(s.backend()).isEqualTo("cuda");
            if (s.available()) {
                assertThat(s.id()).matches("cuda:\\d+");
                assertThat(s.properties()).containsKeys("name", "gemm");
            } else {
                assertThat(s.reason()).isNotBlank();
                assertThat(p.unavailableReason()).isEqualTo(s.reason());
            }
        }
    }

    @Test
    void devicesListsCudaAndGetExplainsWhyItIsMissing() {
        List<DeviceStatus> all = Devices.available();
        assertThat(all).anyMatch(s -> s.backend().equals("cuda"));
        String reason = new CudaDeviceProvider().unavailableReason();
        if (reason != null) {
            assertThatThrownBy(() -> Devices.get("cuda")).isInstanceOf(DeviceUnavailableException.class)
                    .hasMessageContaining(reason);
            assertThatThrownBy(() -> new CudaDeviceProvider().open("cuda:0"))
                    .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining(reason);
        }
    }

    @Test
    void withoutTheDriverLibraryTheReasonNamesIt() {
        if (DriverLibrary.missingReason() != null) {
            assertThat(new CudaDeviceProvider().unavailableReason())
                    .isEqualTo("libcuda.so.1 not found: no NVIDIA driver");
        }
    }

    @Test
    void badIdsAreRejected() {
        assertThatThrownBy(() -> new CudaDeviceProvider().open("cuda:x"))
                .isInstanceOf(DeviceUnavailableException.class).hasMessageContaining("cuda:x");
    }
}

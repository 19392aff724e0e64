package org.tensorbuffer.device;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.testing.TestDevice;

class DevicesTest {

    /** A backend whose driver is missing: probe() reports it, never throws. */
    public static final class MissingDriverProvider implements DeviceProvider {
        @Override
        public String name() {
            return "fakegpu";
        }

        @Override
        public List<DeviceStatus> probe() {
            return List.of(DeviceStatus.unavailable("fakegpu", "fakegpu", "libfakegpu.so.1 not found"));
        }

        @Override
        public Device open(String id) {
            throw new DeviceUnavailableException("fakegpu cannot open " + id);
        }
    }

    /** A buggy backend whose probe throws: listed as unavailable with the error. */
    public static final class BrokenProvider implements DeviceProvider {
        @Override
        public String name() {
            return "broken";
        }

        @Override
        public List<DeviceStatus> probe() {
            throw new UnsatisfiedLinkError("no broken in java.library.path");
        }

        @Override
        public Device open(String id) {
            throw new AssertionError();
        }
    }

    /** A working backend over the test device. */
    public static final class TestProvider implements DeviceProvider {
        static final TestDevice DEVICE = new TestDevice();

        @Override
        public String name() {
            return "test";
        }

        @Override
        public List<DeviceStatus> probe() {
            return List.of(DeviceStatus.available("test", "test", DEVICE.properties()));
        }

        @Override
        public Device open(String id) {
            return DEVICE;
        }
    }

    @Test
    void availableListsEveryBackendWithReasons() {
        List<DeviceStatus> all = Devices.available();
        assertThat(all).anySatisfy(s -> {
            assertThat(s.id()).isEqualTo("fakegpu");
            assertThat(s.available()).isFalse();
            assertThat(s.reason()).contains("libfakegpu.so.1");
        });
        assertThat(all).anySatisfy(s -> {
            assertThat(s.backend()).isEqualTo("broken");
            assertThat(s.available()).isFalse();
            assertThat(s.reason()).contains("UnsatisfiedLinkError");
        });
        assertThat(all).anySatisfy(s -> assertThat(s.id()).isEqualTo("test"));
    }

    @Test
    void getOpensOnceAndExplainsUnavailableDevices() {
        assertThat(Devices.get("test")).isSameAs(TestProvider.DEVICE).isSameAs(Devices.get("test"));
        assertThatThrownBy(() -> Devices.get("fakegpu")).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("fakegpu").hasMessageContaining("libfakegpu.so.1 not found");
        assertThatThrownBy(() -> Devices.get("nosuch")).isInstanceOf(DeviceUnavailableException.class)
                .hasMessageContaining("'nosuch'").hasMessageContaining("no backend");
    }

    @Test
    void slicesShareTheRoot() {
        DeviceBuffer root = new TestDevice().allocate(256, 64);
        DeviceBuffer s = root.slice(64, 128);
        assertThat(s.address()).isEqualTo(root.address() + 64);
        assertThat(s.root()).isSameAs(root);
        assertThat(s.slice(64, 64).root()).isSameAs(root);
        assertThat(s.isRoot()).isFalse();
        assertThatThrownBy(() -> root.slice(200, 100)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void getProbesTheRequestedBackendFirst() {
        // The service files list "test" after "fakegpu" and "broken": get("test") must not start those first.
        List<String> names = Devices.providers().stream().map(DeviceProvider::name).toList();
        assertThat(names.indexOf("test")).isGreaterThan(names.indexOf("broken")).isGreaterThan(0);
        List<String> others = names.stream().filter(n -> !n.equals("test")).toList();
        assertThat(Devices.probeOrder("test")).extracting(DeviceProvider::name)
                .first().isEqualTo("test");
        assertThat(Devices.probeOrder("test").stream().map(DeviceProvider::name).skip(1).toList())
                .isEqualTo(others);
        assertThat(Devices.probeOrder("broken:1")).extracting(DeviceProvider::name).first().isEqualTo("broken");
        assertThat(Devices.probeOrder("metal")).containsExactlyElementsOf(Devices.providers());
        assertThat(Devices.get("test")).isSameAs(TestProvider.DEVICE);
    }
}

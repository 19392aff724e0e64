package org.tensorbuffer.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.tensorbuffer.device.Devices;

/** Without {@code --add-modules jdk.incubator.vector} the cpu device is refused with a message naming that flag. */
class VectorApiFlagTest {

    /** Run in a JVM without the flag: prints what {@code Devices.get("cpu")} throws. */
    public static void main(String[] args) {
        try {
            Devices.get("cpu");
            System.out.println("opened");
        } catch (RuntimeException e) {
            System.out.println(e.getClass().getSimpleName() + ": " + e.getMessage());
        }
    }

    @Test
    void missingModuleIsNamedInTheError() throws Exception {
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process p = new ProcessBuilder(List.of(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), VectorApiFlagTest.class.getName()))
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(out).contains("DeviceUnavailableException")
                .contains("--add-modules jdk.incubator.vector")
                .doesNotContain("NoClassDefFoundError")
                .doesNotContain("native memory");
    }
}

package org.tensorbuffer.example;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ReadmeExampleTest {
    @Test
    void exampleComputesSiluOfRowSums() {
        float[] y = ReadmeExample.run();
        // W @ ones = row sums 10, 26, 42, 58; silu(v) = v / (1 + e^-v)
        double[] sums = {10, 26, 42, 58};
        for (int i = 0; i < 4; i++) {
            assertThat((double) y[i]).isCloseTo(sums[i] / (1 + Math.exp(-sums[i])), within(1e-4));
        }
    }

    @Test
    void readmeShowsThisExample() throws Exception {
        Path readme = Path.of("..", "README.md");
        String src = Files.readString(Path.of("src/test/java/org/tensorbuffer/example/ReadmeExample.java"));
        String body = src.substring(src.indexOf("// README-EXAMPLE-BEGIN") + "// README-EXAMPLE-BEGIN".length(),
                src.indexOf("        // README-EXAMPLE-END")).strip();
        String firstLine = body.lines().findFirst().orElseThrow().strip();
        assertThat(Files.readString(readme)).contains(firstLine).contains("ctx.tensorBuffer().reserve(hidden");
    }
}

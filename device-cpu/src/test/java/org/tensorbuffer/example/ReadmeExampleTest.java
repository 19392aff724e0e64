package org.tensorbuffer.example;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    /**
     * The README shows examples/consumer's Example.java in full (CI builds and runs that project against the installed
     * artifacts), and its code is the code that {@link ReadmeExample} runs here.
     */
    @Test
    void readmeShowsTheConsumerExample() throws Exception {
        String readme = Files.readString(Path.of("..", "README.md"));
        String example = Files.readString(Path.of("..", "examples", "consumer", "src", "main", "java", "com", "example",
                "Example.java"));
        assertThat(readme).contains(example.strip());
        String src = Files.readString(Path.of("src/test/java/org/tensorbuffer/example/ReadmeExample.java"));
        String body = src.substring(src.indexOf("// README-EXAMPLE-BEGIN") + "// README-EXAMPLE-BEGIN".length(),
                src.indexOf("        // README-EXAMPLE-END")).strip();
        List<String> exampleLines = example.lines().map(String::strip).toList();
        assertThat(body.lines().map(String::strip).filter(l -> !l.isEmpty() && !l.equals("return result;")))
                .allSatisfy(line -> assertThat(exampleLines).contains(line));
    }
}

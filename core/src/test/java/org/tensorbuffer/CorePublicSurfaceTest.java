package org.tensorbuffer;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Core's public surface is exactly what its package docs list: every package of core has a {@code package-info.java}
 * whose paragraph "Public types (the API; ...)" names each public top-level type, and the compiled classes (read with
 * ArchUnit) have no other public top-level type and none fewer. Making an internal public, or documenting a type that
 * is gone, fails here. (Automatic modules export every package, so this list, not a module descriptor, is what keeps
 * the allocator internals out of the API.)
 */
class CorePublicSurfaceTest {
    private static final Pattern LIST = Pattern.compile("Public types \\(the API;[^)]*\\):(.*?)(?:\\*/|<p>|<h2>)",
            Pattern.DOTALL);
    private static final Pattern NAME = Pattern.compile("\\{@code\\s+([\\w.]+)\\s*}");

    private static final JavaClasses CORE = new ClassFileImporter()
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_JARS)
            .importPackages("org.tensorbuffer");

    /** The public top-level types of each package of core, from the class files. */
    private static Map<String, Set<String>> publicTypes() {
        Map<String, Set<String>> byPackage = new TreeMap<>();
        for (JavaClass c : CORE) {
            if (c.getSimpleName().equals("package-info")) {
                byPackage.computeIfAbsent(c.getPackageName(), p -> new TreeSet<>());
                continue;
            }
            byPackage.computeIfAbsent(c.getPackageName(), p -> new TreeSet<>());
            if (c.isTopLevelClass() && c.getModifiers().contains(JavaModifier.PUBLIC)) {
                byPackage.get(c.getPackageName()).add(c.getSimpleName());
            }
        }
        return byPackage;
    }

    /** The names the package's {@code package-info.java} lists as its public types. */
    private static Set<String> documented(String pkg) throws IOException {
        Path info = Path.of("src/main/java", pkg.replace('.', '/'), "package-info.java");
        assertThat(info).as("package-info.java of %s", pkg).exists();
        Matcher m = LIST.matcher(Files.readString(info));
        assertThat(m.find()).as("%s lists its public types (\"Public types (the API; ...): ...\")", info).isTrue();
        Set<String> names = new TreeSet<>();
        Matcher n = NAME.matcher(m.group(1));
        while (n.find()) {
            names.add(n.group(1));
        }
        return names;
    }

    @Test
    void everyPackagesPublicTypesAreExactlyItsDocumentedList() throws IOException {
        Map<String, Set<String>> actual = publicTypes();
        assertThat(actual).as("core packages found").containsKeys("org.tensorbuffer", "org.tensorbuffer.memory",
                "org.tensorbuffer.device", "org.tensorbuffer.plan", "org.tensorbuffer.types");
        for (Map.Entry<String, Set<String>> e : actual.entrySet()) {
            assertThat(e.getValue()).as("public top-level types of %s vs its package-info list", e.getKey())
                    .containsExactlyInAnyOrderElementsOf(documented(e.getKey()));
        }
    }

    @Test
    void allocatorInternalsAreNotPublic() {
        for (String internal : new String[] {"org.tensorbuffer.RawAllocator", "org.tensorbuffer.memory.SizeClasses",
            "org.tensorbuffer.memory.MemoryMBeans", "org.tensorbuffer.memory.ThreadCache",
            "org.tensorbuffer.memory.TensorBufferTracker", "org.tensorbuffer.leak.LeakTracker",
            "org.tensorbuffer.plan.Recorder", "org.tensorbuffer.plan.Arena", "org.tensorbuffer.meta.MetaDevice"}) {
            assertThat(CORE.get(internal).getModifiers()).as(internal).doesNotContain(JavaModifier.PUBLIC);
        }
    }
}

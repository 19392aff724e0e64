package org.tensorbuffer.chart;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

/**
 * Reads the charts of a page back for tests (here and, through core's test jar, in the cli): every {@code <svg>}
 * element of the page parsed as XML, the texts of a class ({@code ytick}, {@code xtick}, {@code xlabel},
 * {@code ylabel}, {@code title}), and a check that tick labels are round steps from 0.
 */
public final class SvgCharts {
    private static final Pattern NUMBER = Pattern.compile("^-?[0-9][0-9,]*(\\.[0-9]+)?([eE]-?[0-9]+)?([kMG](?![a-zA-Z]))?");

    private SvgCharts() {
    }

    /** Each {@code <svg>...</svg>} of {@code page} (or the page itself if it is one SVG), parsed as XML. */
    public static List<Element> svgs(String page) {
        List<Element> out = new ArrayList<>();
        int at = 0;
        while ((at = page.indexOf("<svg", at)) >= 0) {
            int end = page.indexOf("</svg>", at) + "</svg>".length();
            try {
                var f = DocumentBuilderFactory.newInstance();
                out.add(f.newDocumentBuilder().parse(new ByteArrayInputStream(page.substring(at, end)
                        .getBytes(StandardCharsets.UTF_8))).getDocumentElement());
            } catch (Exception e) {
                throw new AssertionError("an <svg> of the page is not well-formed XML: " + e.getMessage(), e);
            }
            at = end;
        }
        return out;
    }

    /** The text content of every element of {@code svg} with class {@code cls}, in document order. */
    public static List<String> texts(Element svg, String cls) {
        List<String> out = new ArrayList<>();
        NodeList all = svg.getElementsByTagName("*");
        for (int i = 0; i < all.getLength(); i++) {
            Element e = (Element) all.item(i);
            if (List.of(e.getAttribute("class").split(" ")).contains(cls)) {
                out.add(e.getTextContent());
            }
        }
        return out;
    }

    /**
     * The number a tick label starts with ({@code "2.5 MiB"} -> 2.5, {@code "1,000"} -> 1000, {@code "10k"} -> 10000,
     * {@code "1.5M"} -> 1500000).
     */
    public static double value(String label) {
        Matcher m = NUMBER.matcher(label.trim());
        if (!m.find()) {
            throw new AssertionError("tick label '" + label + "' does not start with a number");
        }
        String n = m.group().replace(",", "");
        double scale = n.endsWith("k") ? 1e3 : n.endsWith("M") ? 1e6 : n.endsWith("G") ? 1e9 : 1;
        return Double.parseDouble(scale == 1 ? n : n.substring(0, n.length() - 1)) * scale;
    }

    /**
     * Asserts the labels are round ticks from 0: at least two, the first 0, equal steps of 1, 2, 2.5 or 5 times a
     * power of ten.
     */
    public static void assertRoundTicks(List<String> labels, String axis) {
        assertThat(labels).as("tick labels of %s", axis).hasSizeGreaterThanOrEqualTo(2);
        double[] v = labels.stream().mapToDouble(SvgCharts::value).toArray();
        assertThat(v[0]).as("first tick of %s (%s)", axis, labels).isZero();
        double step = v[1] - v[0];
        for (int i = 1; i < v.length; i++) {
            assertThat(v[i] - v[i - 1]).as("steps of %s (%s)", axis, labels).isCloseTo(step,
                    org.assertj.core.data.Offset.offset(step * 1e-6));
        }
        double mantissa = step / Math.pow(10, Math.floor(Math.log10(step) + 1e-9));
        assertThat(List.of(1.0, 2.0, 2.5, 5.0).stream().anyMatch(k -> Math.abs(k - mantissa) < 1e-6))
                .as("step %s of %s (%s) is 1, 2, 2.5 or 5 times a power of ten", step, axis, labels).isTrue();
    }
}

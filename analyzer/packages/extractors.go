package packages

import (
	"fmt"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
)

// maxPackageJSON is the largest package.json read: real ones are a few
// kilobytes, and a huge one is more likely a data file than a manifest.
const maxPackageJSON = 1 << 20

// newExtractors returns the extractors every scan runs, in a fixed order.
// The list is explicit (no registration) so that what the analyzer links
// and reads is visible here.
func newExtractors() ([]filesystem.Extractor, error) {
	noHash := false
	constructors := []struct {
		name string
		new  func(*cpb.PluginConfig) (filesystem.Extractor, error)
		cfg  *cpb.PluginConfig
	}{
		{dpkg.Name, dpkg.New, &cpb.PluginConfig{}},
		{apk.Name, apk.New, &cpb.PluginConfig{}},
		{rpm.Name, rpm.New, &cpb.PluginConfig{}},
		// No size limit of its own: the core's file size limit applies, and a
		// large static Go binary is exactly what should be read.
		{gobinary.Name, gobinary.New, &cpb.PluginConfig{}},
		{packagejson.Name, packagejson.New, &cpb.PluginConfig{MaxFileSizeBytes: maxPackageJSON}},
		{wheelegg.Name, wheelegg.New, &cpb.PluginConfig{}},
		// Hashing every jar costs a full read and the hash is not used.
		{archive.Name, archive.New, &cpb.PluginConfig{PluginSpecific: []*cpb.PluginSpecificConfig{{
			Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{HashJars: &noHash}},
		}}}},
	}
	exts := make([]filesystem.Extractor, 0, len(constructors))
	for _, c := range constructors {
		e, err := c.new(c.cfg)
		if err != nil {
			return nil, fmt.Errorf("create extractor %s: %w", c.name, err)
		}
		exts = append(exts, e)
	}
	return exts, nil
}

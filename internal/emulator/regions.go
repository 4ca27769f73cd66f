/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package emulator

import (
	"maps"
	"slices"
	"strings"
)

// publicRegions are Tencent Cloud's public CVM regions (the SDK's regions package lists the same
// IDs), so that a caller may address any real region even when no seeded image lives there.
var publicRegions = map[string]string{
	"ap-bangkok":        "Asia Pacific(Bangkok)",
	"ap-beijing":        "North China(Beijing)",
	"ap-chengdu":        "Southwest China(Chengdu)",
	"ap-chongqing":      "Southwest China(Chongqing)",
	"ap-guangzhou":      "South China(Guangzhou)",
	"ap-guangzhou-open": "South China(Guangzhou Open)",
	"ap-hongkong":       "Hong Kong, Macau and Taiwan (China)(Hong Kong, China)",
	"ap-jakarta":        "Asia Pacific(Jakarta)",
	"ap-mumbai":         "Asia Pacific(Mumbai)",
	"ap-nanjing":        "East China(Nanjing)",
	"ap-seoul":          "Asia Pacific(Seoul)",
	"ap-shanghai":       "East China(Shanghai)",
	"ap-shanghai-fsi":   "East China(Shanghai Finance)",
	"ap-shenzhen-fsi":   "South China(Shenzhen Finance)",
	"ap-singapore":      "Southeast Asia(Singapore)",
	"ap-tokyo":          "Asia Pacific(Tokyo)",
	"eu-frankfurt":      "Europe(Frankfurt)",
	"eu-moscow":         "Europe(Moscow)",
	"na-ashburn":        "US East(Virginia)",
	"na-siliconvalley":  "US West(Silicon Valley)",
	"na-toronto":        "North America(Toronto)",
	"sa-saopaulo":       "South America(São Paulo)",
}

// syncImagesRegions are the regions Tencent's SyncImages reference documents as supported
// (API 213/33267, "This API only supports: ..."). The list seen ends at na-ashburn;
// na-siliconvalley and sa-saopaulo, its alphabetical continuation, are assumed. The other
// public regions (ap-guangzhou-open, ap-mumbai, eu-moscow, na-toronto) answer
// InvalidRegion.Unavailable as a SyncImages destination.
var syncImagesRegions = []string{
	"ap-bangkok", "ap-beijing", "ap-chengdu", "ap-chongqing", "ap-guangzhou", "ap-hongkong", "ap-jakarta",
	"ap-nanjing", "ap-seoul", "ap-shanghai", "ap-shanghai-fsi", "ap-shenzhen-fsi", "ap-singapore", "ap-tokyo",
	"eu-frankfurt", "na-ashburn", "na-siliconvalley", "sa-saopaulo",
}

// checkSyncDestination refuses a SyncImages destination outside the regions SyncImages accepts,
// typos included, naming the refused region and the accepted ones so that a client can pass
// both on to its user.
func (e *Emulator) checkSyncDestination(dest string) *apiError {
	if e.syncRegions[dest] {
		return nil
	}
	accepted := slices.Sorted(maps.Keys(e.syncRegions))
	return errf(CodeRegionUnavailable, "The region %s is not available for SyncImages (this region does not support "+
		"image synchronization); the regions it accepts are %s.", dest, strings.Join(accepted, ", "))
}

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

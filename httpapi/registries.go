package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"customs"
)

// Limits of registry fields (HSS AddRegistryRequestBody, ListRegistryRequest).
const (
	maxRegistryNameLen = 128
	maxRegistryAddrLen = 256
	maxRegistryIDLen   = 64
)

// swrShared is a registry type HSS lists (SWR shared registries) that
// Customs cannot create: it is a valid filter that matches nothing.
const swrShared customs.RegistryType = "SwrShared"

var registryStatuses = []string{customs.RegistrySuccess, customs.RegistryFail, customs.RegistryAccessing}

// registryRecord is a registry as HSS lists it (RegistryInfo). It never
// carries the password.
type registryRecord struct {
	ID                  string `json:"id"`
	RegistryName        string `json:"registry_name"`
	RegistryType        string `json:"registry_type"`
	APIVersion          string `json:"api_version"`
	Protocol            string `json:"protocol"`
	RegistryAddr        string `json:"registry_addr"`
	RegistryUsername    string `json:"registry_username"`
	Namespace           string `json:"namespace"`
	ConnectClusterID    string `json:"connect_cluster_id"`
	GetScanImageChannel string `json:"get_scan_image_channel"`
	Status              string `json:"status"`
	FailReason          string `json:"fail_reason"`
	ImagesNum           int    `json:"images_num"`
	LatestSyncTime      int64  `json:"latest_sync_time"`
}

func toRegistryRecord(r *customs.Registry) registryRecord {
	return registryRecord{
		ID:               r.ID,
		RegistryName:     r.Name,
		RegistryType:     string(r.Type),
		APIVersion:       "V2",
		Protocol:         r.Protocol,
		RegistryAddr:     r.Addr,
		RegistryUsername: r.Username,
		Namespace:        r.Namespace,
		Status:           r.Status,
		FailReason:       r.FailReason,
		ImagesNum:        r.ImagesNum,
		LatestSyncTime:   customs.UnixMilli(r.LatestSyncTime),
	}
}

type registryList struct {
	TotalNum int              `json:"total_num"`
	DataList []registryRecord `json:"data_list"`
}

// registryBody is the body of AddRegistry and UpdateRegistry. Pointers tell
// an absent field from an empty one. HSS fields that do not apply here
// (api_version, connect_cluster_id, get_scan_image_channel) are ignored.
type registryBody struct {
	RegistryName        *string `json:"registry_name"`
	RegistryType        *string `json:"registry_type"`
	Protocol            *string `json:"protocol"`
	RegistryAddr        *string `json:"registry_addr"`
	RegistryUsername    *string `json:"registry_username"`
	RegistryPassword    *string `json:"registry_password"`
	Namespace           *string `json:"namespace"`
	EnterpriseProjectID *string `json:"enterprise_project_id"`
}

// createRegistry is AddRegistry: POST /v5/{project_id}/image/registries.
func (s *Server) createRegistry(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	queryEP := q.str("enterprise_project_id", 1, maxEPIDLen)
	if q.err != nil {
		return q.err
	}
	var b registryBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	reg, err := b.registry()
	if err != nil {
		return err
	}
	switch {
	case b.EnterpriseProjectID != nil:
		if err := checkLen("enterprise_project_id", *b.EnterpriseProjectID, 1, maxEPIDLen); err != nil {
			return err
		}
		reg.EnterpriseProjectID = *b.EnterpriseProjectID
	case queryEP != "":
		reg.EnterpriseProjectID = queryEP
	default:
		reg.EnterpriseProjectID = customs.DefaultEnterpriseProject
	}
	if reg.EnterpriseProjectID == customs.AllGrantedEnterpriseProjects {
		return invalidParam("enterprise_project_id", reg.EnterpriseProjectID, "the id of one enterprise project (a registry belongs to one)")
	}
	scope, err := p.Scope(customs.ActionImagesSet, reg.EnterpriseProjectID)
	if err != nil {
		return err
	}
	if err := s.Registries.CreateRegistry(r.Context(), scope, reg); err != nil {
		return fmt.Errorf("create registry %q: %w", reg.Name, err)
	}
	writeJSON(w, http.StatusOK, toRegistryRecord(reg))
	return nil
}

// registry validates a creation body into a registry.
func (b *registryBody) registry() (*customs.Registry, error) {
	required := []struct {
		name    string
		v       *string
		allowed string
	}{
		{"registry_name", b.RegistryName, lengths(1, maxRegistryNameLen)},
		{"registry_type", b.RegistryType, oneOf(customs.RegistryTypes)},
		{"protocol", b.Protocol, oneOf([]string{"http", "https"})},
		{"registry_addr", b.RegistryAddr, "host[:port], e.g. registry.example.com:5000"},
	}
	for _, f := range required {
		if f.v == nil {
			return nil, missingParam(f.name, f.allowed)
		}
	}
	reg := &customs.Registry{
		Name:     *b.RegistryName,
		Type:     customs.RegistryType(*b.RegistryType),
		Protocol: *b.Protocol,
		Addr:     *b.RegistryAddr,
	}
	if b.Namespace != nil && *b.Namespace == "" {
		return nil, invalidParam("namespace", "", lengths(1, 128)+" (leave it out to synchronize every namespace)")
	}
	for _, f := range []struct {
		dst *string
		src *string
	}{{&reg.Username, b.RegistryUsername}, {&reg.Password, b.RegistryPassword}, {&reg.Namespace, b.Namespace}} {
		if f.src != nil {
			*f.dst = *f.src
		}
	}
	return reg, reg.Validate()
}

// update validates the fields a registry update may change.
func (b *registryBody) update() (customs.RegistryUpdate, error) {
	u := customs.RegistryUpdate{
		Protocol:  b.Protocol,
		Addr:      b.RegistryAddr,
		Username:  b.RegistryUsername,
		Password:  b.RegistryPassword,
		Namespace: b.Namespace,
	}
	return u, u.Validate()
}

// listRegistries is ListRegistry: GET /v5/{project_id}/image/registries.
func (s *Server) listRegistries(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	q, err := parseQuery(r)
	if err != nil {
		return err
	}
	ep := q.enterpriseProject()
	offset, limit := q.page()
	f := customs.RegistryFilter{
		Name: q.str("registry_name", 1, maxRegistryNameLen),
		ID:   q.str("registry_id", 1, maxRegistryIDLen),
	}
	if v, ok := q.get("registry_type"); ok {
		allowed := append(slices.Clone(customs.RegistryTypes), swrShared)
		for t := range strings.SplitSeq(v, ",") {
			if !slices.Contains(allowed, customs.RegistryType(t)) {
				return invalidParam("registry_type", v, "a comma-separated list of "+oneOf(allowed))
			}
			f.Types = append(f.Types, customs.RegistryType(t))
		}
	}
	addr := q.str("registry_addr", 1, maxRegistryAddrLen)
	status := enum(q, "status", registryStatuses, false)
	if q.err != nil {
		return q.err
	}
	scope, err := p.Scope(customs.ActionImagesList, ep)
	if err != nil {
		return err
	}
	regs, err := s.Registries.FindRegistries(r.Context(), scope, f)
	if err != nil {
		return fmt.Errorf("list registries of project %q: %w", scope.ProjectID, err)
	}
	// A project has a handful of registries: the filters the store does not
	// take, and the page, are applied here.
	regs = slices.DeleteFunc(regs, func(reg *customs.Registry) bool {
		return (addr != "" && reg.Addr != addr) || (status != "" && reg.Status != status)
	})
	out := registryList{TotalNum: len(regs), DataList: []registryRecord{}}
	for _, reg := range regs[min(offset, len(regs)):min(offset+limit, len(regs))] {
		out.DataList = append(out.DataList, toRegistryRecord(reg))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// updateRegistry is UpdateRegistry: PUT /v5/{project_id}/image/registries/{id}.
func (s *Server) updateRegistry(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	scope, id, err := registryTarget(r, p)
	if err != nil {
		return err
	}
	var b registryBody
	if err := decodeBody(w, r, &b); err != nil {
		return err
	}
	u, err := b.update()
	if err != nil {
		return err
	}
	reg, err := s.Registries.UpdateRegistry(r.Context(), scope, id, u)
	if err != nil {
		return fmt.Errorf("update registry %q: %w", id, err)
	}
	writeJSON(w, http.StatusOK, toRegistryRecord(reg))
	return nil
}

// deleteRegistry is DeleteRegistry: DELETE /v5/{project_id}/image/registries/{id}.
func (s *Server) deleteRegistry(w http.ResponseWriter, r *http.Request, p *customs.Principal) error {
	scope, id, err := registryTarget(r, p)
	if err != nil {
		return err
	}
	if err := s.Registries.DeleteRegistry(r.Context(), scope, id); err != nil {
		return fmt.Errorf("delete registry %q: %w", id, err)
	}
	writeJSON(w, http.StatusOK, struct{}{})
	return nil
}

// registryTarget is the scope and registry id of a change to one registry.
func registryTarget(r *http.Request, p *customs.Principal) (customs.Scope, string, error) {
	q, err := parseQuery(r)
	if err != nil {
		return customs.Scope{}, "", err
	}
	ep := q.enterpriseProject()
	if q.err != nil {
		return customs.Scope{}, "", q.err
	}
	id := r.PathValue("id")
	if err := checkLen("id", id, 1, maxRegistryIDLen); err != nil {
		return customs.Scope{}, "", err
	}
	scope, err := p.Scope(customs.ActionImagesSet, ep)
	return scope, id, err
}

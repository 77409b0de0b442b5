package ui

import (
	"net/http"
	"net/url"

	"github.com/wharf-registry/wharf/pkg/reference"
)

type deleteData struct {
	Name  string
	Ref   string
	IsTag bool
}

// confirmDelete asks before deleting a tag or a manifest. Only accounts
// the token server grants delete on the repository get here with a
// button; anyone else is told they may not.
func (s *Server) confirmDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	name, ref, err := s.deletable(r, v)
	if err != nil {
		return err
	}
	if v.Session == nil {
		// No auth, so no session yet: the form needs a CSRF token all
		// the same.
		v.Session = newSession("", s.now())
		if err := s.sealer.save(w, r, v.Session, s.base+"/"); err != nil {
			return err
		}
	}
	v.Title, v.Data = "Delete "+name+pullSuffix(ref), deleteData{Name: name, Ref: ref, IsTag: !reference.IsDigest(ref)}
	s.render(w, http.StatusOK, "delete.html", v)
	return nil
}

// doDelete deletes, after checking the session's CSRF token. A tag
// delete removes only the tag; a digest delete removes the manifest and
// every tag pointing at it.
func (s *Server) doDelete(w http.ResponseWriter, r *http.Request, v *view) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if !checkCSRF(v.Session, r) {
		return csrfRefused()
	}
	name, ref, err := s.deletable(r, v)
	if err != nil {
		return err
	}
	if err := s.call(v).deleteManifest(r.Context(), name, ref); err != nil {
		return err
	}
	s.logger.Info("ui: deleted", "user", v.Session.User, "repository", name, "reference", ref)
	http.Redirect(w, r, s.base+"/repository?name="+url.QueryEscape(name), http.StatusSeeOther)
	return nil
}

// deletable checks the parameters and that this account may delete there.
func (s *Server) deletable(r *http.Request, v *view) (string, string, error) {
	name, err := repoName(r)
	if err != nil {
		return "", "", err
	}
	ref, err := refParam(r)
	if err != nil {
		return "", "", err
	}
	if !s.deletion {
		return "", "", &pageError{Status: http.StatusForbidden, Title: "Deletion is disabled",
			Msg: "This registry does not allow deleting (storage.delete.enabled is off, or it is read-only)."}
	}
	ok, err := s.call(v).canDelete(r.Context(), name)
	if err != nil {
		return "", "", err
	}
	if !ok {
		return "", "", &pageError{Status: http.StatusForbidden, Title: "Not allowed",
			Msg: "Your account may not delete in " + name + "."}
	}
	return name, ref, nil
}
